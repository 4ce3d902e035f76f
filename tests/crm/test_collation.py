"""Lists sorted by name the way the page's language sorts (Danish and Norwegian: Æ Ø Å after
Z, "Aa" as "Å"; Swedish: Å Ä Ö after Z; German and English: ä with a). PostgreSQL sorts with
its ICU collations; SQLite with the Python stand-ins of the same names (crm/collation.py),
which agree with ICU on these names."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from accounts.selectors import users_visible_to
from crm import collation
from crm.selectors.companies import companies_for_user
from crm.selectors.contacts import contacts_for_user
from crm.selectors.pickers import companies_search_for_user
from tests.conftest import is_postgres
from tests.factories import CompanyFactory, ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

NAMES = ["Zeta", "Ærø Sejl", "Øst", "Åben", "Ahl", "Ähre", "Ödla", "Bo", "ostby", "Aarhus"]
EXPECTED = {
    "da": ["Ahl", "Bo", "ostby", "Zeta", "Ähre", "Ærø Sejl", "Ödla", "Øst", "Åben", "Aarhus"],
    "nb": ["Ahl", "Bo", "ostby", "Zeta", "Ähre", "Ærø Sejl", "Ödla", "Øst", "Åben", "Aarhus"],
    "sv": ["Aarhus", "Ahl", "Bo", "ostby", "Zeta", "Åben", "Ähre", "Ærø Sejl", "Ödla", "Øst"],
    "de": ["Aarhus", "Åben", "Ærø Sejl", "Ahl", "Ähre", "Bo", "Ödla", "Øst", "ostby", "Zeta"],
    "en-gb": ["Aarhus", "Åben", "Ærø Sejl", "Ahl", "Ähre", "Bo", "Ödla", "Øst", "ostby", "Zeta"],
}


@pytest.fixture
def names(alice, team_a):
    for name in NAMES:
        company = CompanyFactory(team=team_a, name=name)
        ContactFactory(company=company, name=name)


@pytest.mark.parametrize("language", list(EXPECTED))
def test_companies_and_contacts_sort_as_the_language_does(alice, names, language):
    with translation.override(language):
        companies = [c.name for c in companies_for_user(user=alice)]
        contacts = [c.name for c in contacts_for_user(user=alice)]
    assert companies == EXPECTED[language]
    assert contacts == EXPECTED[language]


@pytest.mark.parametrize("language", ["da", "de"])
def test_people_sort_by_first_name_as_the_language_does(alice, team_a, language):
    from accounts.models import Membership, Role

    for first in ("Øystein", "Anna", "Åse", "Zoe", "Ärne"):
        user = UserFactory(first_name=first, last_name="X")
        Membership.objects.create(user=user, team=team_a, role=Role.SALESPERSON)
    with translation.override(language):
        firsts = [u.first_name for u in users_visible_to(user=alice) if u.last_name == "X"]
    expected = {
        "da": ["Anna", "Zoe", "Ärne", "Øystein", "Åse"],
        "de": ["Anna", "Ärne", "Åse", "Øystein", "Zoe"],
    }
    assert firsts == expected[language]


def test_the_python_stand_ins_agree_with_icu_on_these_names():
    for language, expected in EXPECTED.items():
        assert sorted(NAMES, key=lambda name: collation.sort_key(name, language)) == expected


@pytest.mark.skipif(not is_postgres(), reason="ICU collations exist on PostgreSQL only")
def test_postgresql_sorts_with_its_icu_collation(alice, names):
    with translation.override("da"):
        sql = str(companies_for_user(user=alice).query)
    assert 'COLLATE "da-x-icu"' in sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_collation WHERE collname = 'da-x-icu'")
        assert cursor.fetchone()[0] == 1


def test_a_language_without_a_collation_keeps_the_databases_order(alice, names):
    assert collation.collation_for("fr") is None
    with translation.override("fr"):
        names_in_order = [c.name for c in companies_for_user(user=alice)]
    assert sorted(names_in_order) == sorted(NAMES)


@pytest.mark.skipif(not is_postgres(), reason="the pickers' indexes exist on PostgreSQL only")
def test_the_pickers_prefix_and_trigram_indexes_still_serve_the_search(alice, names):
    """The pickers keep their index order (`NameKey`, byte order of UPPER(name)): a language
    collation there would sort every match of a one-letter search. Seq scans off, so the plan
    shows which index can serve, not what the tiny test table makes cheapest."""
    with translation.override("da"):
        results = companies_search_for_user(user=alice, q="ø")
    assert [c.name for c in results.items] == ["Øst", "Ærø Sejl"]
    from crm.models import Company

    prefix = Company.objects.filter(name__istartswith="Ø").order_by(*_name_key())
    contains = Company.objects.filter(name__icontains="rø")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for queryset, index in ((prefix, "crm_company_name_prefix"), (contains, "name_trgm")):
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert index in plan, plan


def _name_key():
    from crm.selectors.pickers import NameKey

    return [NameKey(), "pk"]
