from __future__ import annotations

from django.core.management.base import BaseCommand

from crm.services.tiers import tiers_recompute


class Command(BaseCommand):
    help = "Recompute every company's expected value and ABC tier now (safe to repeat)."

    def handle(self, *args, **options) -> None:
        result = tiers_recompute()
        tiers = ", ".join(f"{tier}: {count}" for tier, count in result.tiers.items())
        self.stdout.write(
            f"{result.companies} companies ({tiers}); {result.updated} updated, "
            f"{result.tier_changes} tier changes recorded."
        )
