from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")
    C = "C", _("C")


class CompanyQuerySet(models.QuerySet):
    def visible_to(self, user) -> CompanyQuerySet:
        """Companies of the teams the user sees (all for an admin).

        In a team set to "own deals only", a salesperson sees the companies they own or that
        nobody owns.
        """
        from accounts.selectors import access_for

        access = access_for(user)
        if access.is_admin:
            return self
        return self.filter(
            Q(team_id__in=access.full_team_ids)
            | Q(team_id__in=access.own_only_team_ids)
            & (Q(owner_id=access.user_id) | Q(owner__isnull=True))
        )


class Company(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="companies")
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("web domain"), max_length=200, blank=True)
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices, default=Tier.C)
    tier_locked = models.BooleanField(_("tier set by hand"), default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="companies",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["team", "name"], name="company_team_name")]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("company-detail", args=[self.pk])


class ContactQuerySet(models.QuerySet):
    def visible_to(self, user) -> ContactQuerySet:
        """Contacts of the companies the user sees."""
        return self.filter(company__in=Company.objects.visible_to(user).values("pk"))


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contact-detail", args=[self.pk])


class Note(models.Model):
    """A note on exactly one company, contact or deal."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    deal = models.ForeignKey(
        "pipeline.Deal", on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("note"), max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(company__isnull=False, contact__isnull=True, deal__isnull=True)
                    | Q(company__isnull=True, contact__isnull=False, deal__isnull=True)
                    | Q(company__isnull=True, contact__isnull=True, deal__isnull=False)
                ),
                name="note_has_exactly_one_subject",
            )
        ]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return self.body[:60]
