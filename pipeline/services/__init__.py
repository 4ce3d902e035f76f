"""Writes with rules behind them, one module per subject. Import from here:
`from pipeline import services; services.deal_move(...)`."""

from pipeline.services.activities import (
    activity_complete,
    activity_create,
    activity_update,
)
from pipeline.services.criteria import ExitCriteriaError, ExitCriteriaInvalid, ExitCriteriaUnmet
from pipeline.services.deals import (
    POSITION_GAP,
    DealConflict,
    MoveResult,
    deal_create,
    deal_delete,
    deal_mark_lost,
    deal_mark_won,
    deal_move,
    deal_pause,
    deal_reopen,
    deal_resume,
    deal_update,
    stage_totals_rebuild,
)
from pipeline.services.errors import DealRuleError
from pipeline.services.flags import flags_scan, flags_sync
from pipeline.services.forecasts import (
    deal_review_mark,
    exchange_rate_set,
    forecast_snapshot_take,
    sales_target_set,
    stage_probability_apply,
)
from pipeline.services.notifications import (
    digest_send,
    notification_mark_read,
    notifications_mark_all_read,
)

__all__ = [
    "POSITION_GAP",
    "DealConflict",
    "DealRuleError",
    "ExitCriteriaError",
    "ExitCriteriaInvalid",
    "ExitCriteriaUnmet",
    "MoveResult",
    "activity_complete",
    "activity_create",
    "activity_update",
    "deal_create",
    "deal_review_mark",
    "deal_delete",
    "deal_mark_lost",
    "deal_mark_won",
    "deal_move",
    "deal_pause",
    "deal_reopen",
    "deal_resume",
    "deal_update",
    "digest_send",
    "exchange_rate_set",
    "forecast_snapshot_take",
    "sales_target_set",
    "stage_probability_apply",
    "flags_scan",
    "flags_sync",
    "notification_mark_read",
    "notifications_mark_all_read",
    "stage_totals_rebuild",
]
