"""Import pages: the happy path through upload, mapping, preview, start and result; the role
matrix (an outsider gets 404, someone who may see but not act 403, bad input 400), each
refusal changing nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import ImportBatch, ImportStatus
from pipeline.models import Deal
from tests.crm.import_support import (
    FIXTURES,
    HUBSPOT_STAGES,
    create_batch,
    map_batch,
    run_import,
    snapshot,
    stage_mapping,
    upload,
)

pytestmark = pytest.mark.django_db


def post_upload(client, name="hubspot_deals.csv", **data):
    with open(FIXTURES / name, "rb") as file:
        return client.post(reverse("import-start"), {"kind": "deals", "file": file, **data})


def test_the_whole_way_through_the_pages(client, bob, sven, lena, pipeline_a, stages_a):
    client.force_login(bob)
    page = client.get(reverse("import-start") + f"?kind=deals&pipeline={pipeline_a.pk}")
    assert page.status_code == 200
    assert f'value="{pipeline_a.pk}" selected' in page.content.decode()
    response = post_upload(client, pipeline=pipeline_a.pk)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("import-map", args=[batch.pk])
    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Deal Stage" in html and "Appointment Scheduled" in html
    assert "a HubSpot export" in html
    # The stage names, mapped on the page; the columns as recognised.
    data = {f"column_{i}": key for i, key in enumerate(batch.mapping["columns"])}
    for index, (name, target) in enumerate(stage_mapping(stages_a, HUBSPOT_STAGES).items()):
        data[f"stage_name_{index}"] = name
        data[f"stage_{index}"] = str(target)
    data.update(first_step="on", first_step_subject="Say hello", first_step_days="2")
    response = client.post(reverse("import-map", args=[batch.pk]), data)
    assert response.status_code == 302 and response.url == reverse(
        "import-preview", args=[batch.pk]
    )
    batch.refresh_from_db()
    assert batch.mapping["first_step"] == {"subject": "Say hello", "days": 2}
    preview = client.get(response.url)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert 'id="count-created">7<' in html
    assert "Import 7 rows" in html
    assert not Deal.objects.exists()
    response = client.post(reverse("import-run", args=[batch.pk]))
    assert response.url == reverse("import-detail", args=[batch.pk])
    result = client.get(response.url)
    html = result.content.decode()
    assert 'id="result-created">7<' in html
    assert "Undo this import" in html
    assert Deal.objects.count() == 7
    assert set(Deal.objects.values_list("next_step_subject", flat=True)) >= {"Say hello"}
    history = client.get(reverse("import-list")).content.decode()
    assert (
        "hubspot_deals.csv" in history
        and f'action="{reverse("import-undo", args=[batch.pk])}"' in history
    )


def test_a_column_change_redraws_the_mapping_with_its_stage_names(
    client, bob, pipeline_a, stages_a
):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    client.force_login(bob)
    columns = list(batch.mapping["columns"])
    stage_column = columns.index("stage")
    columns[stage_column] = ""
    data = {f"column_{i}": key for i, key in enumerate(columns)}
    response = client.post(
        reverse("import-map", args=[batch.pk]), {**data, "refresh": "1"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="mapping"')
    assert "stage_name_0" not in html  # no stage column any more: no names to map
    assert "No stage column" in html


def test_bad_mapping_input_is_400_and_changes_nothing(client, bob, pipeline_a, stages_a):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    before = dict(batch.mapping)
    client.force_login(bob)
    data = {f"column_{i}": "title" for i in range(len(batch.headers))}
    response = client.post(reverse("import-map", args=[batch.pk]), data)
    assert response.status_code == 400
    assert "one column only" in response.content.decode()
    response = client.post(
        reverse("import-map", args=[batch.pk]), {"stage_name_0": "X", "stage_0": "99999"}
    )
    assert response.status_code == 400
    batch.refresh_from_db()
    assert batch.mapping == before


def test_a_bad_file_is_400_with_its_reason_and_changes_nothing(client, bob, pipeline_a, stages_a):
    client.force_login(bob)
    before = snapshot()
    response = post_upload(client, "no_header.csv", pipeline=pipeline_a.pk)
    assert response.status_code == 400
    assert "no header row" in response.content.decode()
    assert not ImportBatch.objects.exists()
    assert snapshot() == before


def test_an_oversized_upload_is_413_before_it_is_read(client, bob, pipeline_a, settings):
    settings.IMPORT_MAX_BYTES = 1000
    client.force_login(bob)
    response = client.post(
        reverse("import-start"),
        {"kind": "deals", "pipeline": pipeline_a.pk, "file": upload("big.csv", b"a\n" * 50_000)},
    )
    assert response.status_code == 413
    assert not ImportBatch.objects.exists()


def test_an_outsider_gets_404_everywhere_and_nothing_changes(
    client, bob, carol, pipeline_a, stages_a
):
    batch = run_import(
        bob,
        "hubspot_deals.csv",
        pipeline=pipeline_a,
        stages=stage_mapping(stages_a, HUBSPOT_STAGES),
    )
    draft = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    client.force_login(carol)
    before = snapshot()
    assert client.get(reverse("import-start") + f"?pipeline={pipeline_a.pk}").status_code == 404
    assert post_upload(client, pipeline=pipeline_a.pk).status_code == 404
    for name in ("import-detail", "import-map", "import-preview"):
        assert client.get(reverse(name, args=[draft.pk])).status_code == 404
    assert client.post(reverse("import-run", args=[draft.pk])).status_code == 404
    assert client.post(reverse("import-undo", args=[batch.pk])).status_code == 404
    assert "hubspot_deals.csv" not in client.get(reverse("import-list")).content.decode()
    assert snapshot() == before
    assert ImportBatch.objects.count() == 2
    draft.refresh_from_db()
    assert draft.status == ImportStatus.UPLOADED


def test_a_salesperson_may_not_undo_and_a_manager_may_not_take_over_a_draft(
    client, alice, bob, pipeline_a, stages_a
):
    batch = run_import(
        alice,
        "hubspot_deals.csv",
        pipeline=pipeline_a,
        stages=stage_mapping(stages_a, HUBSPOT_STAGES),
    )
    draft = create_batch(alice, "hubspot_deals.csv", pipeline=pipeline_a)
    before = snapshot()
    client.force_login(alice)
    assert client.get(reverse("import-detail", args=[batch.pk])).status_code == 200
    assert (
        "Undo this import"
        not in client.get(reverse("import-detail", args=[batch.pk])).content.decode()
    )
    assert client.post(reverse("import-undo", args=[batch.pk])).status_code == 403
    client.force_login(bob)  # the team's manager sees alice's imports, may undo, not continue hers
    assert client.get(reverse("import-detail", args=[draft.pk])).status_code == 200
    assert client.get(reverse("import-map", args=[draft.pk])).status_code == 403
    assert client.post(reverse("import-run", args=[draft.pk])).status_code == 403
    assert snapshot() == before
    draft.refresh_from_db()
    assert draft.status == ImportStatus.UPLOADED
    response = client.post(reverse("import-undo", args=[batch.pk]))
    assert response.status_code == 302
    assert not Deal.objects.exists()


def test_undo_refused_after_a_change_is_409_and_changes_nothing(client, bob, pipeline_a, stages_a):
    from pipeline import services

    batch = run_import(
        bob,
        "hubspot_deals.csv",
        pipeline=pipeline_a,
        stages=stage_mapping(stages_a, HUBSPOT_STAGES),
    )
    deal = Deal.objects.filter(status="open").first()
    services.deal_move(acting_user=bob, deal=deal, stage_id=stages_a[2].pk, version=None)
    before = snapshot()
    client.force_login(bob)
    response = client.post(reverse("import-undo", args=[batch.pk]))
    assert response.status_code == 409
    assert "changed since" in response.content.decode()
    assert snapshot() == before


def test_the_progress_fragment_polls_while_running_and_stops_when_done(
    client, bob, pipeline_a, stages_a
):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.RUNNING, progress_done=3)
    client.force_login(bob)
    url = reverse("import-detail", args=[batch.pk])
    fragment = client.get(
        url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-status"
    ).content.decode()
    assert fragment.lstrip().startswith('<section id="import-status"')
    assert 'hx-trigger="every 1s"' in fragment
    assert "3 of 7 rows" in fragment
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.QUEUED)
    from crm.services import imports as import_services

    import_services.import_batch_run(batch_id=batch.pk)
    fragment = client.get(
        url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-status"
    ).content.decode()
    assert "hx-trigger" not in fragment
    assert 'id="result-created">7<' in fragment


def test_progress_shows_while_the_import_runs(client, bob, pipeline_a, stages_a, monkeypatch):
    """On SQLite the import writes its progress to the shared cache (PostgreSQL: to the batch
    through a connection of its own, tests/crm/services/test_imports_postgres.py)."""
    from tests.conftest import is_postgres

    if is_postgres():
        pytest.skip("PostgreSQL writes progress to the batch; tested in test_imports_postgres")
    from crm.services import import_rows
    from crm.services import imports as import_services

    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    batch = map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))
    monkeypatch.setattr(import_rows, "CHUNK_ROWS", 3)
    client.force_login(bob)
    url = reverse("import-detail", args=[batch.pk])
    seen = []
    original = import_services.ProgressWriter.__call__

    def write_and_look(self, done):
        original(self, done)
        html = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-status").content
        seen.append("of 7 rows read" in html.decode() and done)

    monkeypatch.setattr(import_services.ProgressWriter, "__call__", write_and_look)
    import_services.import_batch_start(acting_user=bob, batch=batch)
    assert seen == [3, 6, 7]
