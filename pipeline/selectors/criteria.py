"""Reads about exit criteria: which stages a move leaves, their criteria with what the deal
has recorded already, the recorded checks of a deal, and which stages of a board have
criteria at all (so the board opens the dialog only where it matters)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import BooleanField, Exists, OuterRef, Q, Value
from django.db.models.expressions import RawSQL

from pipeline.models import Deal, DealCriterionCheck, ExitCriterion, Stage


def is_forward(from_stage: Stage, to_stage: Stage) -> bool:
    """Stages are ordered by (position, pk), as on the board."""
    return (to_stage.position, to_stage.pk) > (from_stage.position, from_stage.pk)


def _left_stages_q(from_stage: Stage, to_stage: Stage, prefix: str = "") -> Q:
    """The stages a forward move leaves: from the current one up to, not including, the
    target (in (position, pk) order)."""
    p, k = f"{prefix}position", f"{prefix}pk"
    at_or_after_from = Q(**{f"{p}__gt": from_stage.position}) | Q(
        **{p: from_stage.position, f"{k}__gte": from_stage.pk}
    )
    before_to = Q(**{f"{p}__lt": to_stage.position}) | Q(
        **{p: to_stage.position, f"{k}__lt": to_stage.pk}
    )
    return Q(**{f"{prefix}pipeline_id": from_stage.pipeline_id}) & at_or_after_from & before_to


def criteria_for_move(*, deal: Deal, from_stage: Stage, to_stage: Stage) -> list[ExitCriterion]:
    """The exit criteria of every stage a move from `from_stage` to `to_stage` leaves, each
    annotated with `is_checked` (already recorded on the deal). Empty for moves that are not
    forward. One query."""
    if not is_forward(from_stage, to_stage):
        return []
    return list(
        ExitCriterion.objects.filter(_left_stages_q(from_stage, to_stage, prefix="stage__"))
        .select_related("stage")
        .annotate(
            is_checked=Exists(
                DealCriterionCheck.objects.filter(deal_id=deal.pk, criterion_id=OuterRef("pk"))
            )
        )
        .order_by("stage__position", "stage__pk", "position", "pk")
    )


def criteria_unmet_exists(
    *, deal_id: int, from_stage: Stage, to_stage: Stage, ticked: tuple[int, ...] = ()
):
    """An expression, for the move's lock query: does a stage this move leaves have a required
    criterion the deal has neither recorded nor `ticked` now? (False for a move that is not
    forward.) The rule and its message are `pipeline.services.criteria.criteria_apply_to_move`'s;
    this only lets the usual drop skip its queries when nothing is missing.

    Written as SQL with parameters rather than built from querysets: the drag runs it on
    every drop, and building the nested querysets cost more Python than the statement takes
    in the database (docs/performance.md). The stages left are `_left_stages_q`'s."""
    if not is_forward(from_stage, to_stage):
        return Value(False, output_field=BooleanField())
    sql, params = _left_criteria_sql(from_stage, to_stage)
    sql += " AND unmet_c.is_required"
    if ticked:
        sql += f" AND unmet_c.id NOT IN ({', '.join(['%s'] * len(ticked))})"
        params += list(ticked)
    sql += (
        f" AND NOT EXISTS (SELECT 1 FROM {DealCriterionCheck._meta.db_table} unmet_k"
        " WHERE unmet_k.deal_id = %s AND unmet_k.criterion_id = unmet_c.id)"
    )
    params.append(deal_id)
    return RawSQL(f"EXISTS (SELECT 1 {sql})", params, output_field=BooleanField())


def criteria_ticked_invalid(*, from_stage: Stage, to_stage: Stage, ticked: tuple[int, ...]):
    """An expression, for the move's lock query: is a `ticked` id not a criterion of the
    stages this move leaves? (`criteria_apply_to_move` refuses such a move.)"""
    if not ticked:
        return Value(False, output_field=BooleanField())
    if not is_forward(from_stage, to_stage):
        return Value(True, output_field=BooleanField())
    sql, params = _left_criteria_sql(from_stage, to_stage)
    sql += f" AND unmet_c.id IN ({', '.join(['%s'] * len(ticked))})"
    params += list(ticked)
    return RawSQL(f"(SELECT COUNT(*) {sql}) < %s", [*params, len(ticked)], BooleanField())


def _left_criteria_sql(from_stage: Stage, to_stage: Stage) -> tuple[str, list]:
    """FROM and WHERE of the criteria of the stages a forward move leaves (`unmet_c`)."""
    fp, fk, tp, tk = from_stage.position, from_stage.pk, to_stage.position, to_stage.pk
    sql = f"""FROM {ExitCriterion._meta.db_table} unmet_c
INNER JOIN {Stage._meta.db_table} unmet_s ON unmet_s.id = unmet_c.stage_id
WHERE unmet_s.pipeline_id = %s
AND (unmet_s.position > %s OR (unmet_s.position = %s AND unmet_s.id >= %s))
AND (unmet_s.position < %s OR (unmet_s.position = %s AND unmet_s.id < %s))"""
    return sql, [from_stage.pipeline_id, fp, fp, fk, tp, tp, tk]


def criterion_checks_for_deal(*, deal: Deal):
    """The recorded customer events of a deal, for its page: text, stage, who and when."""
    return deal.criterion_checks.select_related("stage", "checked_by").order_by("checked_at", "pk")


def stage_ids_with_criteria(*, stage_ids: list[int]) -> set[int]:
    """Which of these stages have exit criteria: one query."""
    return set(
        ExitCriterion.objects.filter(stage_id__in=stage_ids)
        .values_list("stage_id", flat=True)
        .distinct()
    )


@dataclass
class MoveStep:
    """What a move asks of the user: the stages it leaves, each with its exit criteria."""

    deal: Deal
    from_stage: Stage
    to_stage: Stage
    criteria: list[ExitCriterion] = field(default_factory=list)

    @property
    def by_stage(self) -> list[tuple[Stage, list[ExitCriterion]]]:
        groups: dict[int, tuple[Stage, list[ExitCriterion]]] = {}
        for criterion in self.criteria:
            groups.setdefault(criterion.stage_id, (criterion.stage, []))[1].append(criterion)
        return list(groups.values())


def move_step_for_deal(*, deal: Deal, stage_id: int) -> MoveStep | None:
    """The exit criteria a move of `deal` to `stage_id` meets, or None when the stage is not
    in the deal's pipeline. Two queries. The deal was loaded through its access door."""
    stages = {
        s.pk: s
        for s in Stage.objects.filter(
            pipeline_id=deal.pipeline_id, pk__in={deal.stage_id, stage_id}
        )
    }
    if stage_id not in stages or deal.stage_id not in stages:
        return None
    from_stage, to_stage = stages[deal.stage_id], stages[stage_id]
    criteria = criteria_for_move(deal=deal, from_stage=from_stage, to_stage=to_stage)
    return MoveStep(deal=deal, from_stage=from_stage, to_stage=to_stage, criteria=criteria)
