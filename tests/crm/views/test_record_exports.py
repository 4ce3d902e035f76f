"""Downloads of the company, contact and deal lists: the list's filters, the visibility rule,
formula-safe cells, and headers the import reads back, so that export and import into an
empty install gives the same records (and into the same install changes nothing)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.models import Role
from crm.importing.headers import (
    COMPANIES,
    CONTACTS,
    DEALS,
    EXPORT_COLUMNS,
    FIELD_BY_KEY,
    ignored_reason,
    recognise,
)
from crm.models import Company, Contact, Organisation
from crm.organisation import organisation_changed
from crm.selectors.exports import COMPANY_HEADER, CONTACT_HEADER
from crm.services import imports as import_services
from pipeline import services
from pipeline.models import Activity, Deal, DealStatus, LostReason, StageChange
from pipeline.selectors.exports import DEAL_HEADER
from tests.crm.import_support import snapshot
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def read_xlsx(response) -> list[tuple]:
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data)).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


LANGUAGES = [code for code, _name in settings.LANGUAGES]


def in_language(code: str, header: list) -> list[str]:
    with translation.override(code):
        return [str(title) for title in header]


@pytest.mark.parametrize("kind", [COMPANIES, CONTACTS, DEALS])
@pytest.mark.parametrize("exported_in", LANGUAGES)
def test_an_export_in_any_language_is_read_back_column_by_column_in_any_other(kind, exported_in):
    header = in_language(exported_in, [label for _key, label in EXPORT_COLUMNS[kind]])
    expected = [key if key in FIELD_BY_KEY[kind] else "" for key, _label in EXPORT_COLUMNS[kind]]
    for reader in LANGUAGES:
        with translation.override(reader):
            assert recognise(header, kind) == expected, (exported_in, reader)
            for column, key in zip(header, expected, strict=True):
                assert key or ignored_reason(column), (exported_in, reader, column)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("kind", "header"),
    [("companies", COMPANY_HEADER), ("contacts", CONTACT_HEADER), ("deals", DEAL_HEADER)],
)
def test_a_danish_users_downloads_have_danish_headers(
    client, alice, stages_a, kind, header, file_format
):
    alice.language = "da"
    alice.save()
    client.force_login(alice)
    response = client.get(_url(kind, file_format, stages_a[0].pipeline))
    rows = read_csv(response) if file_format == "csv" else read_xlsx(response)
    danish = in_language("da", header)
    assert list(rows[0]) == danish
    assert danish != in_language("en-gb", header)  # the catalogue translates them


def test_companies_export_with_the_lists_filters_and_formula_safe(
    client, alice, carol, team_a, team_b
):
    CompanyFactory(
        team=team_a, name="Acme A/S", domain="acme.dk", tier="A", country="DK", owner=alice
    )
    CompanyFactory(team=team_a, name="=HYPERLINK(1)", domain="", tier="A")
    CompanyFactory(team=team_a, name="Acme Tools", domain="acmetools.dk", tier="C")
    CompanyFactory(team=team_b, name="Acme South", domain="acme-south.dk", tier="A")
    client.force_login(alice)
    rows = read_csv(client.get(reverse("company-export", args=["csv"]) + "?tier=A"))
    # English as before: the msgids are the English names.
    assert (
        rows[0]
        == in_language("en-gb", COMPANY_HEADER)
        == [
            "Name",
            "Web domain",
            "Website",
            "Phone",
            "Address",
            "Country",
            "Registration number",
            "Owner",
            "Owner email",
            "Tier",
        ]
    )
    assert rows[1:] == [
        ["'=HYPERLINK(1)", "", "", "", "", "", "", "", "", "A"],
        ["Acme A/S", "acme.dk", "", "", "", "DK", "", "Alice Andersen", "alice@example.com", "A"],
    ]
    rows = read_csv(client.get(reverse("company-export", args=["csv"]) + "?q=tools"))
    assert [r[0] for r in rows[1:]] == ["Acme Tools"]
    client.force_login(carol)
    rows = read_csv(client.get(reverse("company-export", args=["csv"])))
    assert [r[0] for r in rows[1:]] == ["Acme South"]  # only what carol may see


def test_contacts_export_as_xlsx(client, alice, team_a):
    company = CompanyFactory(team=team_a, name="Ærø Energi ApS", domain="aeroe-energi.dk")
    ContactFactory(
        company=company, name="Søren Ærbø", email="soren@aeroe-energi.dk", title="+Direktør"
    )
    client.force_login(alice)
    response = client.get(reverse("contact-export", args=["xlsx"]))
    assert response["Content-Disposition"] == 'attachment; filename="contacts.xlsx"'
    rows = read_xlsx(response)
    assert list(rows[0]) == in_language("en-gb", CONTACT_HEADER)
    assert rows[1] == (
        "Søren Ærbø",
        "soren@aeroe-energi.dk",
        None,
        "'+Direktør",
        "Ærø Energi ApS",
        "aeroe-energi.dk",
    )


def test_bad_list_filters_are_400(client, alice):
    client.force_login(alice)
    assert client.get(reverse("company-export", args=["csv"]) + "?tier=Z").status_code == 400
    assert (
        client.get(reverse("contact-export", args=["csv"]) + "?q=" + "x" * 101).status_code == 400
    )


def test_deals_export_follows_the_boards_filters_and_visibility(
    client, alice, alex, carol, stages_a, pipeline_b, team_a
):
    mine = DealFactory(stage=stages_a[0], owner=alice, title="Mine")
    DealFactory(stage=stages_a[1], owner=alex, title="Alex's")
    won = DealFactory(stage=stages_a[2], owner=alice, title="Won one")
    Deal.objects.filter(pk=won.pk).update(status=DealStatus.WON)
    client.force_login(alice)
    url = reverse("deal-export", args=[stages_a[0].pipeline_id, "csv"])
    rows = read_csv(client.get(url))
    assert rows[0] == in_language("en-gb", DEAL_HEADER)
    assert {r[0] for r in rows[1:]} == {"Mine", "Alex's"}
    assert {r[0] for r in read_csv(client.get(url + "?owner=me"))[1:]} == {"Mine"}
    assert {r[0] for r in read_csv(client.get(url + "?status=all"))[1:]} == {
        "Mine",
        "Alex's",
        "Won one",
    }
    assert {r[0] for r in read_csv(client.get(url + "?status=closed"))[1:]} == {"Won one"}
    row = next(r for r in read_csv(client.get(url))[1:] if r[0] == "Mine")
    organisation = Organisation.objects.get()
    assert row[-2:] == [f"crm-{organisation.install_id.hex[:12]}", str(mine.pk)]
    # A team set to "own deals only": alice's export holds her deals only.
    team_a.own_deals_only = True
    team_a.save()
    client.force_login(alice)
    assert {r[0] for r in read_csv(client.get(url))[1:]} == {"Mine"}
    # Another team's pipeline is "not found"; filters not understood are 400.
    assert client.get(reverse("deal-export", args=[pipeline_b.pk, "csv"])).status_code == 404
    assert client.get(url + "?status=everything").status_code == 400
    assert client.get(url + f"?owner={carol.pk}").status_code == 400


def _firm(team_a, stages_a, admin):
    """A small firm: companies with every detail, contacts, deals open, won, lost, with next
    steps, a formula-looking title, names with æ, ø, å, ä, ö, ü and ß."""
    sven = UserFactory(
        username="sven", first_name="Sven", last_name="Sørensen", email="sven@nordlys.example"
    )
    MembershipFactory(user=sven, team=team_a, role=Role.SALESPERSON)
    reason, _ = LostReason.objects.get_or_create(name="Too expensive")
    fjord = CompanyFactory(
        team=team_a,
        name="Fjordline AS",
        domain="fjordline.no",
        website="https://www.fjordline.no",
        phone="+47 55 00 00 00",
        address="Bergen",
        country="NO",
        registration_number="NO 123",
        owner=sven,
    )
    strasse = CompanyFactory(
        team=team_a, name="Straße & Söhne KG", domain="strasse-soehne.de", owner=None
    )
    ingrid = ContactFactory(
        company=fjord,
        name="Ingrid Haugen",
        email="ingrid@fjordline.no",
        phone="+47 1",
        title="Innkjøpssjef",
    )
    klaus = ContactFactory(
        company=strasse, name="Klaus Straße", email="klaus@strasse-soehne.de", title=""
    )
    first = services.deal_create(
        acting_user=admin,
        stage=stages_a[1],
        title="Fjordline fleet renewal",
        value=Decimal("48000.50"),
        currency="NOK",
        company=fjord,
        contact=ingrid,
        owner=sven,
        expected_close_date=date(2027, 3, 31),
        next_step=services.NextStep(subject="Call Ingrid", due_date=date(2027, 1, 5)),
    )
    services.deal_create(
        acting_user=admin,
        stage=stages_a[0],
        title='=HYPERLINK("x")',
        value=Decimal("0"),
        currency="EUR",
        company=strasse,
        contact=klaus,
        owner=admin,
    )
    won = services.deal_create(
        acting_user=admin,
        stage=stages_a[3],
        title="Wartung 2027",
        value=Decimal("8900"),
        currency="EUR",
        company=strasse,
        owner=admin,
    )
    services.deal_mark_won(acting_user=admin, deal=won, version=None)
    lost = services.deal_create(
        acting_user=admin,
        stage=stages_a[2],
        title="Ærø pilot",
        value=Decimal("9500"),
        currency="DKK",
        owner=sven,
    )
    services.deal_mark_lost(acting_user=admin, deal=lost, version=None, reason=reason)
    return first


def _records() -> dict:
    """The records as a firm sees them, without ids and times of writing."""
    return {
        "companies": sorted(
            Company.objects.values_list(
                "name",
                "domain",
                "website",
                "phone",
                "address",
                "country",
                "registration_number",
                "owner__username",
                "team__name",
            )
        ),
        "contacts": sorted(
            Contact.objects.values_list("name", "email", "phone", "title", "company__name")
        ),
        "deals": sorted(
            Deal.objects.values_list(
                "title",
                "value",
                "currency",
                "status",
                "stage__name",
                "owner__username",
                "company__name",
                "contact__email",
                "expected_close_date",
                "lost_reason__name",
                "next_step_subject",
                "next_step_due",
            )
        ),
    }


def _url(kind: str, file_format: str, pipeline) -> str:
    return {
        "companies": reverse("company-export", args=[file_format]),
        "contacts": reverse("contact-export", args=[file_format]),
        "deals": reverse("deal-export", args=[pipeline.pk, file_format]) + "?status=all",
    }[kind]


def _export(client, kind: str, file_format: str, pipeline) -> bytes:
    return b"".join(client.get(_url(kind, file_format, pipeline)).streaming_content)


def _import(admin, kind, data, name, pipeline, team):
    _, result = import_services.import_records(
        acting_user=admin,
        kind=kind,
        file=io.BytesIO(data),
        file_name=name,
        team=team if kind != "deals" else None,
        pipeline=pipeline if kind == "deals" else None,
    )
    return result


@pytest.mark.parametrize(
    ("exported_in", "imported_in"), [("en-gb", "en-gb"), ("da", "en-gb"), ("da", "de")]
)
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_export_then_import_into_an_empty_install_gives_the_same_records(
    client, admin, team_a, stages_a, file_format, exported_in, imported_in
):
    """Exported in one language (the headers in it), imported by a user in another."""
    _firm(team_a, stages_a, admin)
    pipeline = stages_a[0].pipeline
    before = _records()
    admin.language = exported_in
    admin.save()
    client.force_login(admin)
    files = {
        kind: _export(client, kind, file_format, pipeline)
        for kind in ("companies", "contacts", "deals")
    }
    # An empty install: no records, another install id.
    for model in (Activity, StageChange, Deal, Contact, Company):
        model.objects.all().delete()
    Organisation.objects.update(install_id=uuid.uuid4())
    organisation_changed()
    for kind in ("companies", "contacts", "deals"):
        with translation.override(imported_in):
            result = _import(admin, kind, files[kind], f"{kind}.{file_format}", pipeline, team_a)
        assert [p.as_dict() for p in result.problems if p.severity == "error"] == []
    assert _records() == before
    # The deals keep where they came from: the first install and its ids.
    assert set(Deal.objects.values_list("source_system", flat=True)) != {""}
    # The same files once more change nothing.
    state = snapshot()
    for kind in ("companies", "contacts", "deals"):
        with translation.override(imported_in):
            result = _import(admin, kind, files[kind], f"{kind}.{file_format}", pipeline, team_a)
        assert (result.created, result.updated) == (0, 0)
    assert snapshot() == state


@pytest.mark.parametrize("exported_in", ["en-gb", "da"])
def test_importing_the_installs_own_export_changes_nothing(
    client, admin, team_a, stages_a, exported_in
):
    _firm(team_a, stages_a, admin)
    pipeline = stages_a[0].pipeline
    admin.language = exported_in
    admin.save()
    client.force_login(admin)
    data = _export(client, "deals", "csv", pipeline)
    state = snapshot()
    with translation.override("de"):
        result = _import(admin, "deals", data, "deals.csv", pipeline, team_a)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 4)
    assert snapshot() == state


def test_the_lists_link_their_downloads_with_the_filters_in_view(client, alice, team_a):
    CompanyFactory(team=team_a, name="Acme A/S", tier="A")
    client.force_login(alice)
    html = client.get(reverse("company-list") + "?q=acme&tier=A").content.decode()
    assert f'href="{reverse("company-export", args=["csv"])}?q=acme&amp;tier=A"' in html
    assert f'href="{reverse("import-start")}?kind=companies"' in html


def test_a_filtered_board_brings_its_download_links_along(client, alice, stages_a):
    pipeline = stages_a[0].pipeline
    client.force_login(alice)
    url = reverse("board", args=[pipeline.pk]) + "?owner=me&q=acme"
    html = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board").content.decode()
    assert 'id="deal-port-menu" hx-swap-oob="true"' in html
    export = reverse("deal-export", args=[pipeline.pk, "csv"])
    assert f"{export}?status=open&amp;owner=me&amp;q=acme" in html
