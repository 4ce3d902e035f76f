"""Every read the crm app's views need, and its access doors, one module per subject.
Import from here: `from crm import selectors`."""

from crm.selectors.companies import (  # noqa: F401
    CompanyMatch,
    can_edit_company,
    companies_editable_by,
    companies_for_user,
    company_duplicates_for_user,
    company_get_for_user,
    contacts_for_company,
    deals_for_company,
)
from crm.selectors.contacts import (  # noqa: F401
    contact_get_for_user,
    contacts_for_user,
    deals_for_contact,
)
from crm.selectors.imports import (  # noqa: F401
    import_batch_get_for_user,
    import_batches_for_user,
    import_pipelines_for_user,
    import_progress,
    import_teams_for_user,
)
from crm.selectors.notes import (  # noqa: F401
    notes_for,
)
from crm.selectors.pickers import (  # noqa: F401
    PICKER_LIMIT,
    PickerResults,
    companies_search_for_user,
    contacts_search_for_user,
    picker_companies,
    picker_contacts,
    picker_team_check,
    ranked_by_name,
)
from crm.selectors.tiers import (  # noqa: F401
    can_set_tier,
    can_set_tiers_somewhere,
    tier_changes_for_company,
    tier_changes_latest,
    tier_preview,
)
