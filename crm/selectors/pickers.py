"""The pickers' searches: the companies and contacts a search-as-you-type field offers.

Every search starts from the visibility rule (`visible_to(user)`, or `companies_editable_by`
where the form only accepts companies the user may change), so another team's names never
reach the page. The fields that validate what a picker submitted (`crm/forms/pickers.py`)
use the same querysets.

Ranking: names that start with the text first, then names with a word that starts with it,
then names that contain it; alphabetical (ignoring case) within each. Two bounded queries:
the prefix matches (an index on UPPER(name) serves them on PostgreSQL, migration
`crm.0005`), and, only when those do not fill the list, the other matches (a trigram index
serves those).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import CharField, F, Func, Q, QuerySet
from django.http import Http404

from accounts.access import access_for
from accounts.models import User
from crm.models import Company, Contact
from crm.selectors.companies import companies_editable_by

PICKER_LIMIT = 20
# What starts a new word inside a name ("Nordic Acme", "Acme-Bygg").
_WORD_BREAKS = (" ", "-")


@dataclass(frozen=True)
class PickerResults:
    """At most `limit` rows, best first, and whether more rows matched."""

    items: list
    has_more: bool


def picker_companies(
    *, user: User, team_id: int | None = None, editable: bool = False
) -> QuerySet[Company]:
    """The companies a company picker may offer and accept: those the user sees (or may
    change, when `editable`), of team `team_id` when given (a deal's company belongs to its
    pipeline's team). A team the user cannot see gives an empty set, never an error."""
    qs = companies_editable_by(user=user) if editable else Company.objects.visible_to(user)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    return qs


def picker_contacts(
    *, user: User, team_id: int | None = None, company_id: int | None = None
) -> QuerySet[Contact]:
    """The contacts a contact picker may offer and accept: contacts of the companies the user
    sees, of team `team_id` and company `company_id` when given."""
    qs = Contact.objects.visible_to(user)
    if team_id is not None:
        qs = qs.filter(company__team_id=team_id)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    return qs


class NameKey(Func):
    """What the pickers sort names by: `UPPER(name)`, on PostgreSQL `COLLATE "C"` (byte
    order), the expression of the prefix index (migration `crm.0005`), so a search's first
    rows are read from the index in order. Within the names that start with the typed text,
    only what follows it is ordered this way: letters outside A-Z (Æ, Ø, Å, Ä) come after Z,
    as in the Nordic alphabets."""

    function = "UPPER"
    output_field = CharField()

    def __init__(self):
        super().__init__(F("name"))

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self.as_sql(compiler, connection, **extra_context)
        return f'{sql} COLLATE "C"', params


def ranked_by_name(qs: QuerySet, *, q: str, limit: int = PICKER_LIMIT) -> PickerResults:
    """Rows of `qs` whose name contains `q` (case-insensitive), best first: names that start
    with it, then names with a word that starts with it, then the rest, each group in
    `NameKey` order; without `q`, the first rows in that order. One query per group, each
    for at most the `limit + 1` rows still wanted, until the list is full: the groups are
    queried separately (not sorted by a rank) so each is read in index order or sorted
    alone, and a common name ("Hansen", thousands of contacts) costs no sort of every match."""
    wanted = limit + 1
    if not q:
        groups = [Q()]
    else:
        starts = Q(name__istartswith=q)
        word_starts = Q()
        for mark in _WORD_BREAKS:
            word_starts |= Q(name__icontains=mark + q)
        word_starts &= ~starts
        groups = [starts, word_starts, Q(name__icontains=q) & ~starts & ~word_starts]
    rows: list = []
    for group in groups:
        rows += qs.filter(group).order_by(NameKey(), "pk")[: wanted - len(rows)]
        if len(rows) == wanted:
            break
    return PickerResults(rows[:limit], len(rows) > limit)


def companies_search_for_user(
    *,
    user: User,
    q: str,
    team_id: int | None = None,
    editable: bool = False,
    limit: int = PICKER_LIMIT,
) -> PickerResults:
    """What a company picker lists for `q`: see `picker_companies` and `ranked_by_name`."""
    qs = picker_companies(user=user, team_id=team_id, editable=editable).only(
        "pk", "name", "domain"
    )
    return ranked_by_name(qs, q=q, limit=limit)


def contacts_search_for_user(
    *,
    user: User,
    q: str,
    team_id: int | None = None,
    company_id: int | None = None,
    limit: int = PICKER_LIMIT,
) -> PickerResults:
    """What a contact picker lists for `q`, each contact with its company (its name is shown
    beside the contact's, and choosing a contact fills in an empty company field)."""
    qs = (
        picker_contacts(user=user, team_id=team_id, company_id=company_id)
        .select_related("company")
        .only("pk", "name", "title", "email", "company__id", "company__name")
    )
    return ranked_by_name(qs, q=q, limit=limit)


def picker_team_check(*, user: User, team_id: int | None) -> None:
    """The door of a search scoped to a team: 404 unless the user sees that team (an admin
    sees every team), as for any other team's record."""
    if team_id is None:
        return
    access = access_for(user)
    if not access.is_admin and team_id not in access.team_ids:
        raise Http404
