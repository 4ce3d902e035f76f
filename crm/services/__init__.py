"""Writes with rules behind them in the crm app, one module per subject. Import from here:
`from crm import services; services.company_create(...)`."""

from crm.services.checks import (  # noqa: F401
    CrmRuleError,
)
from crm.services.companies import (  # noqa: F401
    company_create,
    company_update,
)
from crm.services.contacts import (  # noqa: F401
    contact_create,
    contact_update,
)
from crm.services.notes import (  # noqa: F401
    note_create,
)
