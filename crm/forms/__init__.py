"""The crm app's forms, one module per subject. Import from here:
`from crm.forms import CompanyForm`."""

from crm.forms.companies import (  # noqa: F401
    DETAIL_FIELDS,
    PHONE_VALIDATOR,
    TIER_AUTOMATIC,
    CompanyForm,
    CompanyListForm,
    normalise_domain,
    normalise_website,
)
from crm.forms.contacts import (  # noqa: F401
    ContactForm,
)
from crm.forms.lists import (  # noqa: F401
    MAX_PAGE,
    ListSearchForm,
)
from crm.forms.notes import (  # noqa: F401
    NoteForm,
)
from crm.forms.tiers import (  # noqa: F401
    TierFilterField,
    TierThresholdsForm,
    tier_filter_field,
)
