"""Exit criteria on moves: which stages a forward move leaves, which of their criteria the deal
still lacks, and recording the customer events the user ticked.

The rule: a deal moving forward (to a stage later in the pipeline) leaves its current stage
and skips every stage between. The criteria of all of those stages apply: a required one must
be recorded on the deal already or ticked with this move; advisory ones are shown and may be
left unticked. Moving back, reordering within a column, creating a deal and reopening one
leave no stage forward, so no criteria apply to them.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from pipeline.models import Deal, DealCriterionCheck, ExitCriterion, Stage
from pipeline.selectors.criteria import criteria_for_move
from pipeline.services.errors import DealRuleError


class ExitCriteriaError(DealRuleError):
    """Base for refusals about exit criteria (a DealRuleError, so every path shows it)."""


class ExitCriteriaUnmet(ExitCriteriaError):
    """A required exit criterion of a stage being left is neither recorded nor ticked."""

    def __init__(self, missing: list[ExitCriterion]):
        texts = "; ".join(c.text for c in missing)
        message = ngettext(
            "Tick the required exit criterion first: %(texts)s.",
            "Tick the required exit criteria first: %(texts)s.",
            len(missing),
        ) % {"texts": texts}
        super().__init__(message)
        self.missing = missing


class ExitCriteriaInvalid(ExitCriteriaError):
    """Ticked ids that are not criteria of the stages this move leaves."""

    def __init__(self):
        super().__init__(_("Those exit criteria do not belong to the stages this move leaves."))


def criteria_apply_to_move(
    *,
    acting_user: User,
    deal: Deal,
    from_stage: Stage,
    to_stage: Stage,
    ticked: list[int] | None,
) -> list[DealCriterionCheck]:
    """Enforce the exit criteria of a move and record the newly ticked ones (who, when, the
    stage and the text as they were). Runs inside the move's transaction, under its locks, so
    a refusal changes nothing. Ticked ids must be criteria of the stages being left (else
    ExitCriteriaInvalid); a required criterion neither recorded nor ticked raises
    ExitCriteriaUnmet. Ticking an already recorded criterion is a no-op (idempotent)."""
    ticked_ids = set(ticked or ())
    criteria = criteria_for_move(deal=deal, from_stage=from_stage, to_stage=to_stage)
    if ticked_ids - {c.pk for c in criteria}:
        raise ExitCriteriaInvalid()
    missing = [c for c in criteria if c.is_required and not c.is_checked and c.pk not in ticked_ids]
    if missing:
        raise ExitCriteriaUnmet(missing)
    now = timezone.now()
    return DealCriterionCheck.objects.bulk_create(
        [
            DealCriterionCheck(
                deal_id=deal.pk,
                criterion=c,
                stage_id=c.stage_id,
                text=c.text,
                checked_by=acting_user,
                checked_at=now,
            )
            for c in criteria
            if c.pk in ticked_ids and not c.is_checked
        ]
    )


def criteria_record_ticked(*, acting_user: User, deal: Deal, ticked: tuple[int, ...]) -> None:
    """Record the `ticked` criteria the deal has not recorded yet (who, when, the stage and the
    text as they are now), as `criteria_apply_to_move` does, in one statement. For a move
    whose lock has read already that the ids are criteria of the stages it leaves and that
    nothing required is missing (`criteria_ticked_invalid`, `criteria_unmet_exists`)."""
    if not ticked:
        return
    checks, criteria = DealCriterionCheck._meta.db_table, ExitCriterion._meta.db_table
    marks = ", ".join(["%s"] * len(ticked))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {checks} (deal_id, criterion_id, stage_id, text, checked_by_id, "
            f"checked_at) SELECT %s, c.id, c.stage_id, c.text, %s, %s FROM {criteria} c "
            f"WHERE c.id IN ({marks}) AND NOT EXISTS (SELECT 1 FROM {checks} k "
            "WHERE k.deal_id = %s AND k.criterion_id = c.id)",
            [deal.pk, acting_user.pk, now, *ticked, deal.pk],
        )
