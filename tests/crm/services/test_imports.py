"""Imports: the fixture files land as the records they hold, a second import changes
nothing, a failure leaves nothing, teams stay apart, undo removes exactly the batch."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from crm.importing.errors import ImportFileError
from crm.models import Company, Contact, ImportBatch, ImportStatus
from crm.services import import_rows
from crm.services import imports as import_services
from pipeline.models import (
    Activity,
    Deal,
    DealRevision,
    DealStatus,
    Flag,
    FlagKind,
    LostReason,
    StageChange,
    StageTotal,
)
from pipeline.services import stage_totals_rebuild
from tests.crm.import_support import (
    HUBSPOT_STAGES,
    create_batch,
    map_batch,
    run_import,
    snapshot,
    stage_mapping,
)
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db


def hubspot_deals(user, stages, pipeline, **kwargs):
    return run_import(
        user,
        "hubspot_deals.csv",
        pipeline=pipeline,
        stages=stage_mapping(stages, HUBSPOT_STAGES),
        **kwargs,
    )


def test_hubspot_deals_land_as_the_records_they_hold(bob, sven, lena, pipeline_a, stages_a):
    batch = hubspot_deals(bob, stages_a, pipeline_a)
    assert batch.status == ImportStatus.DONE
    assert (batch.created_count, batch.updated_count, batch.skipped_count) == (7, 0, 0)
    assert batch.related_created == {"companies": 5, "contacts": 5}
    deals = {d.source_id: d for d in Deal.objects.select_related("company", "contact", "stage")}
    fjord = deals["9012345671"]
    assert fjord.title == "Fjordline fleet renewal"
    assert fjord.source_system == "hubspot"
    assert (fjord.stage.name, fjord.status, fjord.owner) == ("Lead in", "open", sven)
    assert fjord.value == Decimal("48000.00")
    assert fjord.currency == "EUR"  # the organisation's reporting currency
    assert fjord.expected_close_date == date(2027, 3, 31)
    assert (fjord.company.name, fjord.contact.name) == ("Fjordline AS", "Ingrid Haugen")
    assert fjord.company.import_batch_id == batch.pk
    assert fjord.created_at.date() == date(2026, 11, 2)
    muller = deals["9012345672"]
    assert muller.value == Decimal("125000.50")
    assert muller.company.name == "Müller Logistik GmbH"
    assert muller.contact.name == "Jürgen Weiß"
    assert deals["9012345673"].owner == sven  # by e-mail
    assert deals["9012345674"].value == Decimal("31750.00")
    won = deals["9012345675"]
    assert (won.status, won.stage.name) == (DealStatus.WON, "Negotiation")
    assert won.closed_at.date() == date(2026, 11, 10)
    lost = deals["9012345676"]
    assert lost.status == DealStatus.LOST
    assert lost.owner == bob  # "Unknown Person" is not in the team: the importer owns it
    # Both Fjordline deals share one company and one contact.
    assert lost.company_id == fjord.company_id and lost.contact_id == fjord.contact_id
    formula = deals["9012345677"]
    assert formula.title == '=HYPERLINK("http://evil.example";"Click")'
    assert formula.company is None
    # Every deal entered its stage once, by the importer.
    assert StageChange.objects.count() == 7
    assert set(StageChange.objects.values_list("user", flat=True)) == {bob.pk}
    assert StageChange.objects.filter(from_stage__isnull=True).count() == 7
    # Open deals without a next step are flagged at once; closed ones are not.
    flagged = set(
        Flag.objects.filter(kind=FlagKind.NO_NEXT_STEP, resolved_at__isnull=True).values_list(
            "deal__source_id", flat=True
        )
    )
    assert flagged == {"9012345671", "9012345672", "9012345673", "9012345674", "9012345677"}
    assert_totals_true(stages_a)
    assert_positions_unique()


def assert_totals_true(stages):
    kept = {
        (t.stage_id, t.currency): (t.count, t.value, t.attention)
        for t in StageTotal.objects.filter(stage__in=stages)
    }
    stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    again = {
        (t.stage_id, t.currency): (t.count, t.value, t.attention)
        for t in StageTotal.objects.filter(stage__in=stages)
    }
    assert kept == again


def assert_positions_unique():
    rows = list(Deal.objects.filter(status="open").values_list("stage_id", "position"))
    assert len(rows) == len(set(rows))


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    bob, sven, lena, pipeline_a, stages_a
):
    hubspot_deals(bob, stages_a, pipeline_a)
    before = snapshot()
    again = hubspot_deals(bob, stages_a, pipeline_a)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 7)
    assert again.related_created == {"companies": 0, "contacts": 0}
    assert snapshot() == before


def test_an_updated_export_updates_what_changed(bob, sven, lena, pipeline_a, stages_a):
    hubspot_deals(bob, stages_a, pipeline_a)
    data = (
        import_services.settings.BASE_DIR / "tests/fixtures/imports/hubspot_deals.csv"
    ).read_text()
    data = data.replace(
        "Fjordline fleet renewal,Appointment Scheduled,2027-03-31,Sven Sørensen,48000",
        "Fjordline fleet renewal,Qualified To Buy,2027-03-31,Sven Sørensen,52000",
    )
    versions = dict(Deal.objects.values_list("source_id", "version"))
    batch = hubspot_deals(bob, stages_a, pipeline_a, data=data.encode())
    assert (batch.created_count, batch.updated_count, batch.unchanged_count) == (0, 1, 6)
    fjord = Deal.objects.get(source_id="9012345671")
    assert (fjord.stage.name, fjord.value) == ("Qualified", Decimal("52000.00"))
    assert fjord.version == versions["9012345671"] + 1
    move = StageChange.objects.get(deal=fjord, from_stage__isnull=False)
    assert (move.from_stage.name, move.to_stage.name) == ("Lead in", "Qualified")
    revision = DealRevision.objects.get(deal=fjord)
    assert revision.value == Decimal("48000.00")
    assert_totals_true(stages_a)
    assert_positions_unique()


def test_the_preview_says_what_the_import_will_do(bob, sven, lena, pipeline_a, stages_a):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    preview = import_services.import_preview(acting_user=bob, batch=batch)
    assert (preview.created, preview.updated, preview.unchanged, preview.skipped) == (7, 0, 0, 0)
    assert preview.related == {"companies": 5, "contacts": 5}
    assert [r.action for r in preview.preview] == ["create"] * 7
    assert Deal.objects.count() == Company.objects.count() == 0
    batch = import_services.import_batch_start(acting_user=bob, batch=batch)
    again = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    again = map_batch(bob, again, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    preview = import_services.import_preview(acting_user=bob, batch=again)
    assert (preview.created, preview.unchanged) == (0, 7)


def test_unmapped_stages_are_problems_by_row_and_column(bob, sven, lena, pipeline_a, stages_a):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    preview = import_services.import_preview(acting_user=bob, batch=batch)
    # "Closed Won" and "Closed Lost" are understood without help; the others are not ours.
    assert preview.created == 2
    assert preview.skipped == 5
    problem = next(p for p in preview.problems if p.row == 2)
    assert problem.column == "Deal Stage"
    assert "Appointment Scheduled" in problem.message


def test_pipedrive_deals_with_statuses_currencies_and_lost_reasons(
    bob, sven, lena, pipeline_a, stages_a
):
    LostReason.objects.get_or_create(name="Too expensive")
    batch = run_import(bob, "pipedrive_deals.csv", pipeline=pipeline_a)
    assert (batch.created_count, batch.skipped_count) == (4, 1)
    assert "Deleted" in batch.problems[0]["message"] and batch.problems[0]["row"] == 6
    deals = {d.source_id: d for d in Deal.objects.select_related("stage", "contact", "lost_reason")}
    assert deals["101"].source_system == "pipedrive"
    assert (deals["101"].value, deals["101"].currency) == (Decimal("24000.00"), "DKK")
    assert deals["101"].contact.email == "mette@kaffekompagniet.dk"
    assert deals["102"].title == "Nordsø Fisk – cold chain"
    won = deals["103"]
    assert (won.status, won.stage.name, won.value, won.currency) == (
        "won",
        "Negotiation",
        Decimal("8900.50"),
        "EUR",
    )
    assert won.contact.name == "Klaus Straße"
    lost = deals["104"]
    assert (lost.status, lost.stage.name, lost.lost_reason.name) == (
        "lost",
        "Lead in",
        "Too expensive",
    )
    assert lost.currency == "NOK"


def test_the_danish_excel_file_keeps_its_letters_and_numbers(bob, sven, lena, pipeline_a, stages_a):
    batch = run_import(bob, "danish_excel_deals.csv", pipeline=pipeline_a)
    assert (batch.created_count, batch.skipped_count) == (4, 1)
    errors = [(p["row"], p["column"]) for p in batch.problems if p["severity"] == "error"]
    assert errors == [(6, "Forventet lukkedato")]
    deals = {d.title: d for d in Deal.objects.select_related("company", "contact", "owner")}
    first = deals["Ny hjemmeside"]
    assert (first.value, first.currency) == (Decimal("12500.50"), "DKK")
    assert first.company.name == "Brødrene Æbelø A/S"
    assert first.contact.name == "Søren Ærbø"
    assert first.expected_close_date == date(2026, 12, 31)
    assert first.owner == sven
    assert deals["Servicekontrakt 2027"].value == Decimal("1250000.00")
    assert deals["Servicekontrakt 2027"].owner == lena
    assert deals["Kaffemaskiner"].value == Decimal("12500.50")
    assert deals["Kaffemaskiner"].owner is None  # the owner cell is empty: a manager leaves it so
    # The same company (and contact, by e-mail) twice in the file: one of each.
    assert deals["Udvidelse lager"].company_id == first.company_id
    assert deals["Udvidelse lager"].contact_id == first.contact_id
    assert Company.objects.count() == 3
    assert "Grøn Energi ApS" not in set(Company.objects.values_list("name", flat=True))


def test_utf16_contacts_with_their_companies(bob, sven, team_a):
    existing = CompanyFactory(team=team_a, name="Muller Logistik", domain="mueller-logistik.de")
    batch = run_import(bob, "unicode_text_contacts.txt", kind="contacts", team=team_a)
    assert (batch.created_count, batch.skipped_count) == (4, 2)
    assert batch.related_created == {"companies": 3}  # Müller Logistik matched by name
    juergen = Contact.objects.get(email="juergen.weiss@mueller-logistik.de")
    assert (juergen.name, juergen.title, juergen.company) == (
        "Jürgen Weiß",
        "Einkaufsleiter",
        existing,
    )
    assert Contact.objects.get(name="Åsa Öberg").company.name == "Göteborg Hamn AB"
    errors = {(p["row"], p["column"]) for p in batch.problems if p["severity"] == "error"}
    assert errors == {(6, "Email"), (7, "Associated Company")}
    again = run_import(bob, "unicode_text_contacts.txt", kind="contacts", team=team_a)
    assert (again.created_count, again.unchanged_count) == (0, 4)


def test_xlsx_companies_match_on_domain_then_name(bob, sven, lena, team_a):
    existing = CompanyFactory(
        team=team_a, name="Göteborgs Hamn", domain="goteborgshamn.se", phone=""
    )
    batch = run_import(bob, "hubspot_companies.xlsx", kind="companies", team=team_a)
    assert (batch.created_count, batch.updated_count, batch.skipped_count) == (4, 1, 1)
    existing.refresh_from_db()
    assert existing.name == "Göteborg Hamn AB"  # the export's name wins: it changed
    assert existing.phone == "+46 31 731 20 00"
    fjord = Company.objects.get(domain="fjordline.no")
    assert (fjord.owner, fjord.address, fjord.country.code) == (sven, "Bergen", "NO")
    assert fjord.website == "https://www.fjordline.no"
    repeat = next(p for p in batch.problems if p["row"] == 6)
    assert "row 2" in repeat["message"]
    formula = Company.objects.get(name="=1+2")
    assert formula.country.code == ""
    warning = next(p for p in batch.problems if p["row"] == 7)
    assert (warning["column"], warning["severity"]) == ("Country/Region", "warning")


def test_a_failure_in_the_middle_leaves_nothing_behind(
    bob, sven, lena, pipeline_a, stages_a, monkeypatch
):
    monkeypatch.setattr(import_rows, "CHUNK_ROWS", 2)
    calls = []
    original = import_rows.DealBulkWriter.create

    def create_then_fail(self, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("the disk is full")
        return original(self, rows)

    monkeypatch.setattr(import_rows.DealBulkWriter, "create", create_then_fail)
    before = snapshot()
    batch = hubspot_deals(bob, stages_a, pipeline_a)
    assert calls == [2, 2, 2]  # two chunks were written before the failure
    assert batch.status == ImportStatus.FAILED
    assert "nothing was imported" in batch.error_message
    assert snapshot() == before
    # The file is kept: the import can be started again.
    monkeypatch.setattr(import_rows.DealBulkWriter, "create", original)
    batch = import_services.import_batch_start(acting_user=bob, batch=batch)
    assert (batch.status, batch.created_count) == (ImportStatus.DONE, 7)


def test_a_salesperson_cannot_import_into_another_teams_pipeline(carol, pipeline_a, stages_a):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        create_batch(carol, "hubspot_deals.csv", pipeline=pipeline_a)
    assert not ImportBatch.objects.exists()
    assert snapshot() == before


def test_rows_never_attach_to_another_teams_records(alice, team_b, pipeline_a, stages_a):
    theirs = CompanyFactory(team=team_b, name="Fjordline AS", domain="fjordline.no")
    run_import(
        alice,
        "hubspot_deals.csv",
        pipeline=pipeline_a,
        stages=stage_mapping(stages_a, HUBSPOT_STAGES),
    )
    assert not Deal.objects.filter(company=theirs).exists()
    ours = Company.objects.get(name="Fjordline AS", team=pipeline_a.team)
    assert ours != theirs
    assert not Contact.objects.filter(company=theirs).exists()


def test_a_salesperson_owns_rows_whose_owner_is_not_a_colleague(alice, sven, pipeline_a, stages_a):
    run_import(
        alice,
        "hubspot_deals.csv",
        pipeline=pipeline_a,
        stages=stage_mapping(stages_a, HUBSPOT_STAGES),
    )
    owners = dict(Deal.objects.values_list("source_id", "owner__username"))
    assert owners["9012345671"] == "sven"  # a colleague
    assert owners["9012345672"] == "alice"  # Lena Lund is not in this test's team
    assert owners["9012345676"] == "alice"


def test_a_salesperson_cannot_change_a_colleagues_deal_by_import(
    alice, bob, sven, lena, pipeline_a, stages_a
):
    hubspot_deals(bob, stages_a, pipeline_a)
    data = (
        import_services.settings.BASE_DIR / "tests/fixtures/imports/hubspot_deals.csv"
    ).read_text()
    data = data.replace(",48000,", ",99000,")
    before = snapshot()
    batch = hubspot_deals(alice, stages_a, pipeline_a, data=data.encode())
    assert (batch.updated_count, batch.skipped_count) == (0, 1)
    assert "may not change" in batch.problems[0]["message"]
    assert Deal.objects.get(source_id="9012345671").value == Decimal("48000.00")
    assert snapshot() == before


def test_undo_removes_exactly_the_batch(bob, sven, lena, pipeline_a, stages_a, team_a):
    before_company = CompanyFactory(team=team_a, name="Fjordline AS", domain="fjordline.no")
    native = DealFactory(stage=stages_a[0], company=before_company, title="Made by hand")
    first = hubspot_deals(bob, stages_a, pipeline_a)
    assert first.related_created == {"companies": 4, "contacts": 5}
    state_after_first = snapshot()
    data = (
        import_services.settings.BASE_DIR / "tests/fixtures/imports/hubspot_deals.csv"
    ).read_text()
    data += "9012345678,Second batch deal,Contract Sent,,Lena Lund,100,,Sales Pipeline,New Co,,newbusiness,\n"
    second = hubspot_deals(bob, stages_a, pipeline_a, data=data.encode())
    assert (second.created_count, second.unchanged_count) == (1, 7)
    import_services.import_batch_undo(acting_user=bob, batch=second)
    assert snapshot() == state_after_first
    import_services.import_batch_undo(acting_user=bob, batch=first)
    assert set(Deal.objects.all()) == {native}
    assert set(Company.objects.all()) == {before_company}
    assert not Contact.objects.exists()
    assert StageChange.objects.filter(deal__import_batch__isnull=False).count() == 0
    assert not Flag.objects.exclude(deal=native).exists()
    assert_totals_true(stages_a)
    first.refresh_from_db()
    assert (first.status, first.undone_by) == (ImportStatus.UNDONE, bob)
    # Undoing again changes nothing.
    state = snapshot()
    import_services.import_batch_undo(acting_user=bob, batch=first)
    assert snapshot() == state


def test_undo_is_refused_when_someone_changed_the_records_since(
    bob, sven, lena, pipeline_a, stages_a
):
    from pipeline import services

    batch = hubspot_deals(bob, stages_a, pipeline_a)
    deal = Deal.objects.get(source_id="9012345671")
    services.deal_move(acting_user=bob, deal=deal, stage_id=stages_a[1].pk, version=None)
    before = snapshot()
    with pytest.raises(import_services.ImportRefused) as refused:
        import_services.import_batch_undo(acting_user=bob, batch=batch)
    assert "changed since" in refused.value.message
    assert snapshot() == before


def test_only_managers_and_admins_undo(bob, sven, lena, alice, pipeline_a, stages_a):
    batch = hubspot_deals(alice, stages_a, pipeline_a)
    before = snapshot()
    with pytest.raises(PermissionDenied):
        import_services.import_batch_undo(acting_user=alice, batch=batch)
    assert snapshot() == before


def test_the_first_next_step_for_every_new_deal(bob, sven, lena, pipeline_a, stages_a):
    hubspot_deals(bob, stages_a, pipeline_a, first_step={"subject": "Call to say hello", "days": 2})
    open_deals = Deal.objects.filter(status="open")
    assert open_deals.count() == 5
    for deal in open_deals:
        assert deal.next_step.subject == "Call to say hello"
        assert deal.next_step_due == deal.next_step.due_date
        assert deal.next_step.assignee_id == deal.owner_id
    assert not Activity.objects.filter(deal__status__in=["won", "lost"]).exists()
    assert not Flag.objects.filter(kind=FlagKind.NO_NEXT_STEP).exists()
    assert_totals_true(stages_a)


def test_bad_files_are_refused_and_change_nothing(bob, pipeline_a, stages_a):
    before = snapshot()
    for name, data in [
        ("no_header.csv", None),
        ("empty.csv", b""),
        ("broken.xlsx", b"PK\x03\x04garbage"),
    ]:
        with pytest.raises(ImportFileError):
            create_batch(bob, name, pipeline=pipeline_a, data=data)
    assert not ImportBatch.objects.exists()
    assert snapshot() == before


def test_a_file_over_the_settings_limit_is_refused(bob, pipeline_a, stages_a, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportFileError) as refused:
        create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    assert "too large" in refused.value.message
    assert not ImportBatch.objects.exists()


def test_a_large_file_runs_on_a_worker(bob, sven, lena, pipeline_a, stages_a, settings):
    from unittest import mock

    from crm.tasks import import_run

    settings.IMPORT_INLINE_ROWS = 3
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    with mock.patch.object(import_run, "apply_async") as sent:
        batch = import_services.import_batch_start(acting_user=bob, batch=batch)
    assert sent.call_args.kwargs["args"] == (batch.pk,)
    assert batch.status == ImportStatus.QUEUED
    assert not Deal.objects.exists()
    assert import_run(batch.pk) == {"batch": batch.pk, "status": "done"}
    assert Deal.objects.count() == 7
    # A redelivered message changes nothing.
    before = snapshot()
    assert import_run(batch.pk)["status"] == "done"
    assert snapshot() == before


def test_with_the_broker_down_a_large_import_waits_and_says_so(
    bob, sven, lena, pipeline_a, stages_a, settings
):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from crm.broker import broker_outage_forget
    from crm.tasks import import_run
    from tests.test_celery import broker_down

    settings.IMPORT_INLINE_ROWS = 3
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    with broker_down(), pytest.raises(import_services.ImportBusy) as busy:
        import_services.import_batch_start(acting_user=bob, batch=batch)
    assert "starts by itself" in busy.value.message
    batch.refresh_from_db()
    assert batch.status == ImportStatus.QUEUED
    assert not Deal.objects.exists()
    # The periodic catch-up hands it to a worker once the broker is back.
    broker_outage_forget()  # what the minutes until then do
    with mock.patch.object(import_run, "apply_async") as sent:
        assert import_services.imports_resume() == 0  # too early: its message may be on its way
        later = timezone.now() + timedelta(minutes=3)
        assert import_services.imports_resume(now=later) == 1
    assert sent.call_args.kwargs["args"] == (batch.pk,)
    import_run(batch.pk)
    assert Deal.objects.count() == 7


def test_an_import_whose_worker_died_runs_again(bob, sven, lena, pipeline_a, stages_a):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from crm.tasks import import_run

    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    # What a killed worker leaves: the batch marked running, its transaction rolled back.
    stale = timezone.now() - timedelta(minutes=11)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.RUNNING, progress_at=stale)
    with mock.patch.object(import_run, "apply_async") as sent:
        assert import_services.imports_resume() == 1
    import_run(*sent.call_args.kwargs["args"])
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == (ImportStatus.DONE, 7)


def test_a_mapping_that_does_not_fit_is_refused_and_changes_nothing(
    bob, pipeline_a, stages_a, team_b
):
    from tests.factories import PipelineFactory, StageFactory

    other_stage = StageFactory(pipeline=PipelineFactory(team=team_b))
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    mapping = dict(batch.mapping)
    for bad in [
        {"columns": ["title"]},
        {"columns": ["title"] * len(batch.headers)},
        {"columns": ["nonsense"] + batch.mapping["columns"][1:]},
        {"stages": {"Appointment Scheduled": other_stage.pk}},
        {"owners": {"Lena Lund": 999999}},
        {"number_styles": {"5": "roman"}},
        {"first_step": {"subject": "", "days": 2}},
        {"first_step": {"subject": "Call", "days": 400}},
    ]:
        with pytest.raises(import_services.ImportRefused):
            import_services.import_batch_map(
                acting_user=bob, batch=batch, mapping={**mapping, **bad}
            )
        batch.refresh_from_db()
        assert batch.mapping == mapping


def test_new_deals_get_their_stages_follow_up_routines_as_when_added_by_hand(
    bob, sven, lena, pipeline_a, stages_a
):
    from pipeline.models import FollowUpRoutine
    from pipeline.services.routines import working_days_after

    lead = stages_a[0]
    FollowUpRoutine.objects.create(
        stage=lead, subject="Book a discovery call", kind="call", due_in_days=1, position=0
    )
    FollowUpRoutine.objects.create(
        stage=lead, subject="Send the deck", kind="email", due_in_days=3, position=1
    )
    lead.has_routines = True
    lead.save(update_fields=["has_routines"])
    hubspot_deals(bob, stages_a, pipeline_a, first_step={"subject": "Say hello", "days": 2})
    fjord = Deal.objects.get(source_id="9012345671")  # in "Lead in"
    activities = list(fjord.activities.order_by("due_date"))
    assert [a.subject for a in activities] == ["Book a discovery call", "Send the deck"]
    entry = StageChange.objects.get(deal=fjord)
    assert {a.stage_change_id for a in activities} == {entry.pk}
    assert all(a.routine_id for a in activities)
    today = timezone.localdate()
    assert fjord.next_step == activities[0]
    assert fjord.next_step_due == working_days_after(today, 1)
    assert fjord.next_step.assignee == sven
    # A stage without routines: the import's first next step.
    muller = Deal.objects.get(source_id="9012345672")
    assert [a.subject for a in muller.activities.all()] == ["Say hello"]
    assert muller.next_step.subject == "Say hello"
    assert not Flag.objects.filter(deal__status="open").exists()
    assert_totals_true(stages_a)


def test_routines_are_left_out_when_not_chosen(bob, sven, lena, pipeline_a, stages_a):
    from pipeline.models import FollowUpRoutine

    lead = stages_a[0]
    FollowUpRoutine.objects.create(stage=lead, subject="Book a discovery call", due_in_days=1)
    lead.has_routines = True
    lead.save(update_fields=["has_routines"])
    hubspot_deals(bob, stages_a, pipeline_a, routines=False)
    assert not Activity.objects.exists()
    fjord = Deal.objects.get(source_id="9012345671")
    assert Flag.objects.filter(deal=fjord, kind=FlagKind.NO_NEXT_STEP).exists()
