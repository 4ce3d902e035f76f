"""Pipeline-hygiene flags: at most one open flag per deal and kind."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pipeline.models.deals import Deal


class FlagKind(models.TextChoices):
    NO_NEXT_STEP = "no_next_step", _("No next step")
    OVERDUE_NEXT_STEP = "overdue_next_step", _("Next step overdue")
    STALE = "stale", _("No movement")


class Flag(models.Model):
    """A deal slipping from the method: raised and resolved by the scan and the services so
    that the open flags always equal the definitions (docs/product.md)."""

    # No database constraint (docs/decisions.md): checking it cost the first scan seconds per
    # million flags. Deleting a deal through the ORM still deletes its flags (CASCADE is
    # Django's), and every read reaches flags from their deal, so a stray one is never shown.
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="flags", db_constraint=False
    )
    kind = models.CharField(max_length=20, choices=FlagKind.choices)
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "pk"]
        constraints = [
            # At most one open flag per deal and kind, however many scans run at once.
            models.UniqueConstraint(
                fields=["deal", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="flag_one_open_per_deal_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["no_next_step", "overdue_next_step", "stale"]),
                name="flag_kind_valid",
            ),
        ]
        verbose_name = _("flag")
        verbose_name_plural = _("flags")

    def __str__(self) -> str:
        return f"{self.deal_id} {self.kind}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
