"""The admin's lists: lost reasons and product areas."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductArea(models.Model):
    """An admin-managed category of deals (a product line), used to slice loss analysis."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("product area")
        verbose_name_plural = _("product areas")

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")

    def __str__(self) -> str:
        return self.name
