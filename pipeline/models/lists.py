"""The admin's lists: lost reasons and product areas."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AdminListEntry(models.Model):
    """The shape of an admin's list (lost reasons, product areas): a unique name, a place in
    the list, and retired instead of deleted so past deals keep their value."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class ProductArea(AdminListEntry):
    """An admin-managed category of deals (a product line), used to slice loss analysis."""

    class Meta(AdminListEntry.Meta):
        verbose_name = _("product area")
        verbose_name_plural = _("product areas")


class LostReason(AdminListEntry):
    """Why a deal was lost, chosen when it is marked lost."""

    class Meta(AdminListEntry.Meta):
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")
