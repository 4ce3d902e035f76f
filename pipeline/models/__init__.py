"""The pipeline app's models, one module per subject. Import from here:
`from pipeline.models import Deal`."""

from pipeline.models.activities import (  # noqa: F401
    Activity,
    ActivityKind,
)
from pipeline.models.analytics import (  # noqa: F401
    VISIT_COLUMNS,
    AnalyticsRefresh,
    StageMonth,
    StageVisit,
)
from pipeline.models.deals import (  # noqa: F401
    Deal,
    DealCriterionCheck,
    DealQuerySet,
    DealRevision,
    DealStatus,
    DealVisibility,
    StageChange,
    deal_visibility,
)
from pipeline.models.flags import (  # noqa: F401
    Flag,
    FlagKind,
)
from pipeline.models.forecasts import (  # noqa: F401
    DealReview,
    ExchangeRate,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    PeriodKind,
    SalesTarget,
)
from pipeline.models.lead_forms import (  # noqa: F401
    ALWAYS_REQUIRED,
    CAPACITY_MAX,
    HONEYPOT_FIELD,
    LEAD_FIELD_KEYS,
    LEAD_FIELDS,
    LEAD_NEXT_STEP_MAX_DAYS,
    TOKEN_FIELD,
    LeadField,
    LeadForm,
    OwnerRule,
    RepCapacity,
    default_fields,
    lead_form_key,
)
from pipeline.models.lists import (  # noqa: F401
    AdminListEntry,
    LostReason,
    ProductArea,
)
from pipeline.models.notifications import (  # noqa: F401
    DigestSent,
    Notification,
    NotificationKind,
)
from pipeline.models.pipelines import (  # noqa: F401
    Currency,
    ExitCriterion,
    Pipeline,
    PipelineQuerySet,
    Stage,
    StageQuerySet,
    StageTotal,
)
from pipeline.models.routines import (  # noqa: F401
    ROUTINE_MAX_DAYS,
    FollowUpRoutine,
)
