"""An import in a real browser: a manager opens the board's import, uploads HubSpot's deals
export, maps its stages (the mapping redraws as columns change), previews it, starts it, watches
the progress bar (it survives a reload), sees the result, and undoes it from the history.
Screenshots (laptop and phone) go to /work/wt/shots/imports-*.png when that folder exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Role
from crm.models import ImportBatch, ImportStatus
from pipeline.models import Deal
from tests.e2e.conftest import log_in
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar where it belongs
        page.screenshot(path=SHOTS / f"imports-{name}.png", full_page=True)


@pytest.fixture
def firm(bob, team_a, stages_a):
    for username, first, last in (("sven", "Sven", "Sørensen"), ("lena", "Lena", "Lund")):
        user = UserFactory(
            username=username, first_name=first, last_name=last, email=f"{username}@nordlys.example"
        )
        MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
    return stages_a[0].pipeline


def test_manager_imports_hubspot_deals_with_mapping_preview_progress_and_undo(
    page, firm, stages_a, settings, monkeypatch
):
    from crm.services import imports as import_services
    from crm.tasks import import_run

    settings.IMPORT_INLINE_ROWS = 3  # the file's 7 rows go to the background worker
    queued = []
    monkeypatch.setattr(import_services, "enqueue", lambda name, *args: queued.append(args) or True)
    page.set_viewport_size(LAPTOP)
    log_in(page, "bob")
    page.goto(reverse("board", args=[firm.pk]))
    page.get_by_text("Import / export").click()
    page.get_by_role("link", name="Import deals…").click()

    # 1. Upload: deals, into the board's pipeline.
    expect(page.get_by_role("heading", name="Import from a spreadsheet")).to_be_visible()
    expect(page.locator("#id_pipeline")).to_have_value(str(firm.pk))
    page.locator("#id_file").set_input_files(str(FIXTURES / "hubspot_deals.csv"))
    _shot(page, "upload")
    page.get_by_role("button", name="Upload and map columns").click()

    # 2. Mapping: the columns are recognised; four stage names need one of ours.
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(page.locator("#id_column_1")).to_have_value("title")
    expect(page.locator(".import-name:has(option[value='']:checked)")).to_have_count(4)
    # Leaving the stage column out redraws the form without stage names; back again.
    page.locator("#id_column_2").select_option("")
    expect(
        page.get_by_text("No stage column: every deal goes into the first stage.")
    ).to_be_visible()
    page.locator("#id_column_2").select_option("stage")
    expect(page.locator(".import-name:has(option[value='']:checked)")).to_have_count(4)
    names = {"Appointment Scheduled": "Lead in", "Qualified To Buy": "Qualified"}
    names |= {"Presentation Scheduled": "Proposal", "Contract Sent": "Negotiation"}
    for row in page.locator(".import-name").all():
        name = row.locator(".import-name-text").inner_text()
        if name in names:
            row.locator("select").select_option(label=names[name])
    page.get_by_label("Give every imported open deal that has no next step yet a first one").check()
    page.get_by_label("Next step", exact=True).fill("Say hello")
    _shot(page, "mapping")
    page.get_by_role("button", name="Preview the import").click()

    # 3. Preview: seven new deals, five new companies and contacts, nothing saved yet.
    expect(page.locator("#count-created")).to_have_text("7")
    expect(page.locator("#count-skipped")).to_have_text("0")
    expect(page.get_by_text("with 5 new companies and 5 new contacts")).to_be_visible()
    assert not Deal.objects.exists()
    _shot(page, "preview")
    page.get_by_role("button", name="Import 7 rows").click()

    # 4. Progress: queued for the worker; the page keeps polling, also after a reload.
    expect(page.get_by_role("heading", name="Waiting for the background worker…")).to_be_visible()
    batch = ImportBatch.objects.get()
    assert queued == [(batch.pk,)]
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.RUNNING, progress_done=3)
    expect(page.get_by_text("3 of 7 rows read (43 %).")).to_be_visible()
    page.reload()
    expect(page.locator("progress.import-progress")).to_have_attribute("value", "43")
    _shot(page, "progress")
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.QUEUED, progress_done=0)
    import_run(batch.pk)  # what the worker does
    expect(page.get_by_text("Imported.", exact=True)).to_be_visible()  # the poll brought it
    expect(page.locator("#result-created")).to_have_text("7")
    assert Deal.objects.count() == 7
    _shot(page, "result")

    # The board shows the deals; the history offers undo.
    page.get_by_role("link", name="Open the board").click()
    expect(page.get_by_text("Fjordline fleet renewal")).to_be_visible()
    page.goto(reverse("import-list"))
    expect(page.get_by_role("link", name="hubspot_deals.csv")).to_be_visible()
    _shot(page, "history")

    for name, url in (
        ("upload-phone", reverse("import-start") + f"?kind=deals&pipeline={firm.pk}"),
        ("result-phone", reverse("import-detail", args=[batch.pk])),
        ("history-phone", reverse("import-list")),
    ):
        page.set_viewport_size(PHONE)
        page.goto(url)
        _shot(page, name)

    page.set_viewport_size(LAPTOP)
    page.goto(reverse("import-list"))
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("was undone")).to_be_visible()
    expect(page.locator(f"#import-{batch.pk} .badge")).to_have_text("Undone")
    assert not Deal.objects.exists()


def test_phone_mapping_and_preview_of_a_danish_file(page, firm, stages_a):
    page.set_viewport_size(PHONE)
    log_in(page, "bob")
    page.goto(reverse("import-start") + f"?kind=deals&pipeline={firm.pk}")
    page.locator("#id_file").set_input_files(str(FIXTURES / "danish_excel_deals.csv"))
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_text("Windows-1252, semicolon-separated")).to_be_visible()
    _shot(page, "mapping-phone")
    page.get_by_role("button", name="Preview the import").click()
    expect(page.locator("#count-created")).to_have_text("4")
    expect(page.locator("#count-skipped")).to_have_text("1")
    expect(page.get_by_text("“32-01-2027” is not a date we can read.").first).to_be_visible()
    _shot(page, "preview-phone")
    page.set_viewport_size(LAPTOP)
    page.reload()
    _shot(page, "preview-problems")
