"""The settings pages through HTTP: happy paths on the htmx and the plain path, bad input
answered with 400 and a clear message, nothing changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.models import Deal, ExitCriterion, LostReason, Pipeline, ProductArea, Stage
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def stage_state():
    return list(
        Stage.objects.order_by("pk").values_list(
            "pk", "name", "position", "probability", "rot_days", "is_archived"
        )
    )


def order(pipeline):
    return list(pipeline.stages.active().order_by("position", "pk").values_list("pk", flat=True))


def test_settings_home_goes_to_pipelines(signed_in):
    response = signed_in.get(reverse("settings-home"))
    assert response.status_code == 302 and response["Location"] == reverse("settings-pipelines")


def test_pipeline_list_shows_counts_and_creates(signed_in, stages_a, team_a):
    DealFactory(stage=stages_a[0])
    page = signed_in.get(reverse("settings-pipelines")).content.decode()
    assert "New business" in page and "Team A" in page
    response = signed_in.post(
        reverse("settings-pipelines"), {"name": "Key accounts", "team": team_a.pk}
    )
    pipeline = Pipeline.objects.get(name="Key accounts")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings-pipeline", args=[pipeline.pk])


@pytest.mark.parametrize("name", ["", " ", "x" * 101])
def test_pipeline_bad_name_is_400(signed_in, team_a, name):
    before = Pipeline.objects.count()
    response = signed_in.post(reverse("settings-pipelines"), {"name": name, "team": team_a.pk})
    assert response.status_code == 400
    assert Pipeline.objects.count() == before


def test_pipeline_page_lists_stages_with_counts(signed_in, stages_a):
    ExitCriterion.objects.create(stage=stages_a[1], text="Need confirmed")
    DealFactory(stage=stages_a[1])
    page = signed_in.get(reverse("settings-pipeline", args=[stages_a[0].pipeline.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'id="stage-{stages_a[1].pk}"' in html and "1 criterion" in html and "25%" in html


def test_pipeline_update_and_bad_threshold(signed_in, stages_a, stages_b, team_a):
    pipeline = stages_a[0].pipeline
    url = reverse("settings-pipeline-update", args=[pipeline.pk])
    response = signed_in.post(
        url, {"name": "Renamed", "team": team_a.pk, "qualified_after_stage": stages_a[1].pk}
    )
    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.name == "Renamed" and pipeline.qualified_after_stage == stages_a[1]
    response = signed_in.post(
        url, {"name": "Again", "team": team_a.pk, "qualified_after_stage": stages_b[0].pk}
    )
    assert response.status_code == 400
    pipeline.refresh_from_db()
    assert pipeline.name == "Renamed"


def test_archive_hides_the_pipeline_from_the_board_picker(signed_in, stages_a, stages_b):
    pipeline = stages_a[0].pipeline
    signed_in.post(reverse("settings-pipeline-archive", args=[pipeline.pk]))
    board = signed_in.get(reverse("board", args=[stages_b[0].pipeline.pk])).content.decode()
    assert ">New business · Team A<" not in board
    assert ">South business · Team B<" in board
    signed_in.post(reverse("settings-pipeline-unarchive", args=[pipeline.pk]))
    assert not Pipeline.objects.get(pk=pipeline.pk).is_archived
    board = signed_in.get(reverse("board", args=[stages_b[0].pipeline.pk])).content.decode()
    assert ">New business · Team A<" in board


@pytest.mark.parametrize("htmx", [True, False])
def test_stage_create(signed_in, stages_a, htmx):
    pipeline = stages_a[0].pipeline
    response = signed_in.post(
        reverse("settings-stage-create", args=[pipeline.pk]),
        {"name": "Contract sent", "probability": 90, "rot_days": 7},
        **(HTMX if htmx else {}),
    )
    stage = Stage.objects.get(name="Contract sent")
    assert order(pipeline)[-1] == stage.pk
    if htmx:
        assert response.status_code == 200 and 'id="stage-panel"' in response.content.decode()
        assert "<html" not in response.content.decode()
    else:
        assert response.status_code == 302


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "probability": 10, "rot_days": 5},
        {"name": "x" * 101, "probability": 10, "rot_days": 5},
        {"name": "Ok", "probability": 101, "rot_days": 5},
        {"name": "Ok", "probability": -1, "rot_days": 5},
        {"name": "Ok", "probability": 10, "rot_days": 0},
        {"name": "Ok", "probability": 10, "rot_days": 3651},
        {"name": "Ok", "probability": "ten", "rot_days": 5},
        {"name": "Qualified", "probability": 10, "rot_days": 5},
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_stage_bad_input_is_400_and_changes_nothing(signed_in, stages_a, data, htmx):
    before = stage_state()
    extra = HTMX if htmx else {}
    created = signed_in.post(
        reverse("settings-stage-create", args=[stages_a[0].pipeline.pk]), data, **extra
    )
    updated = signed_in.post(reverse("settings-stage-update", args=[stages_a[0].pk]), data, **extra)
    assert created.status_code == updated.status_code == 400
    assert "errorlist" in updated.content.decode()
    assert stage_state() == before


@pytest.mark.parametrize("htmx", [True, False])
def test_stage_update_in_place_or_plain(signed_in, stages_a, htmx):
    stage = stages_a[1]
    url = reverse("settings-stage-update", args=[stage.pk])
    extra = HTMX if htmx else {}
    edit = signed_in.get(url, **extra)
    assert edit.status_code == 200 and 'name="rot_days"' in edit.content.decode()
    assert ("<html" in edit.content.decode()) is not htmx
    response = signed_in.post(url, {"name": "Needs met", "probability": 30, "rot_days": 9}, **extra)
    stage.refresh_from_db()
    assert (stage.name, stage.probability, stage.rot_days) == ("Needs met", 30, 9)
    if htmx:
        html = response.content.decode()
        assert response.status_code == 200 and html.lstrip().startswith("<li")
        assert "Needs met" in html
    else:
        assert response.status_code == 302


def test_stage_row_cancels_an_edit(signed_in, stages_a):
    response = signed_in.get(reverse("settings-stage-row", args=[stages_a[0].pk]), **HTMX)
    assert response.status_code == 200 and "Lead in" in response.content.decode()
    plain = signed_in.get(reverse("settings-stage-row", args=[stages_a[0].pk]))
    assert plain.status_code == 302


@pytest.mark.parametrize("htmx", [True, False])
def test_reorder_by_full_list(signed_in, stages_a, htmx):
    pipeline = stages_a[0].pipeline
    wanted = [stages_a[3].pk, stages_a[2].pk, stages_a[1].pk, stages_a[0].pk]
    response = signed_in.post(
        reverse("settings-stage-reorder", args=[pipeline.pk]),
        {"order": wanted},
        **(HTMX if htmx else {}),
    )
    assert response.status_code == (200 if htmx else 302)
    assert order(pipeline) == wanted


@pytest.mark.parametrize("bad", [[], ["x"], ["0"], "missing", "duplicate", "foreign", [str(2**70)]])
def test_bad_order_is_400_and_changes_nothing(signed_in, stages_a, stages_b, bad):
    pipeline = stages_a[0].pipeline
    ids = [s.pk for s in reversed(stages_a)]
    if bad == "missing":
        bad = ids[:-1]
    elif bad == "duplicate":
        bad = [*ids[:-1], ids[0]]
    elif bad == "foreign":
        bad = [*ids[:-1], stages_b[0].pk]
    before = stage_state()
    response = signed_in.post(
        reverse("settings-stage-reorder", args=[pipeline.pk]), {"order": bad}, **HTMX
    )
    assert response.status_code == 400
    assert stage_state() == before


@pytest.mark.parametrize("htmx", [True, False])
def test_move_buttons_are_real_forms(signed_in, stages_a, htmx):
    pipeline = stages_a[0].pipeline
    response = signed_in.post(
        reverse("settings-stage-move", args=[stages_a[2].pk]),
        {"direction": "up"},
        **(HTMX if htmx else {}),
    )
    assert order(pipeline)[1] == stages_a[2].pk
    if htmx:
        assert "data-focus-after-swap" in response.content.decode()
    else:
        assert response.status_code == 302


def test_bad_direction_is_400(signed_in, stages_a):
    before = stage_state()
    response = signed_in.post(
        reverse("settings-stage-move", args=[stages_a[2].pk]), {"direction": "sideways"}
    )
    assert response.status_code == 400 and stage_state() == before


def test_removing_a_stage_with_deals_asks_where_they_go(signed_in, stages_a):
    deal = DealFactory(stage=stages_a[1])
    url = reverse("settings-stage-delete", args=[stages_a[1].pk])
    page = signed_in.get(url).content.decode()
    assert "Move its deals to" in page and f'value="{stages_a[0].pk}"' in page
    assert f'value="{stages_a[1].pk}"' not in page
    before = stage_state()
    assert signed_in.post(url, {}).status_code == 400
    assert signed_in.post(url, {"move_deals_to": stages_a[1].pk}).status_code == 400
    assert stage_state() == before
    response = signed_in.post(url, {"move_deals_to": stages_a[3].pk})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage_id == stages_a[3].pk


def test_the_last_stage_cannot_be_removed(signed_in, stages_b):
    signed_in.post(reverse("settings-stage-delete", args=[stages_b[1].pk]))
    url = reverse("settings-stage-delete", args=[stages_b[0].pk])
    assert "at least one stage" in signed_in.get(url).content.decode()
    assert signed_in.post(url).status_code == 400
    assert Stage.objects.filter(pk=stages_b[0].pk).exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_criteria_add_edit_move_remove(signed_in, stages_a, htmx):
    stage = stages_a[0]
    extra = HTMX if htmx else {}
    url = reverse("settings-criterion-create", args=[stage.pk])
    signed_in.post(url, {"text": "Need confirmed", "is_required": "1"}, **extra)
    response = signed_in.post(url, {"text": "Budget known", "is_required": "0"}, **extra)
    if htmx:
        html = response.content.decode()
        assert f'id="stage-{stage.pk}-criteria"' in html and "Advisory" in html
    first, second = ExitCriterion.objects.filter(stage=stage).order_by("position")
    signed_in.post(
        reverse("settings-criterion-update", args=[first.pk]),
        {f"c{first.pk}-text": "Need confirmed in writing", f"c{first.pk}-is_required": "0"},
        **extra,
    )
    first.refresh_from_db()
    assert first.text == "Need confirmed in writing" and not first.is_required
    signed_in.post(
        reverse("settings-criterion-move", args=[second.pk]), {"direction": "up"}, **extra
    )
    assert list(stage.exit_criteria.order_by("position")) == [second, first]
    signed_in.post(reverse("settings-criterion-delete", args=[second.pk]), **extra)
    assert list(stage.exit_criteria.all()) == [first]


@pytest.mark.parametrize("text", ["", "x" * 121])
@pytest.mark.parametrize("htmx", [True, False])
def test_criterion_bad_text_is_400(signed_in, stages_a, text, htmx):
    criterion = ExitCriterion.objects.create(stage=stages_a[0], text="Need confirmed")
    extra = HTMX if htmx else {}
    created = signed_in.post(
        reverse("settings-criterion-create", args=[stages_a[0].pk]),
        {"text": text, "is_required": "1"},
        **extra,
    )
    updated = signed_in.post(
        reverse("settings-criterion-update", args=[criterion.pk]),
        {f"c{criterion.pk}-text": text, f"c{criterion.pk}-is_required": "1"},
        **extra,
    )
    assert created.status_code == updated.status_code == 400
    assert list(ExitCriterion.objects.values_list("text", flat=True)) == ["Need confirmed"]


@pytest.mark.parametrize(
    ("key", "model"), [("lost-reason", LostReason), ("product-area", ProductArea)]
)
@pytest.mark.parametrize("htmx", [True, False])
def test_admin_lists(signed_in, key, model, htmx):
    extra = HTMX if htmx else {}
    list_url = reverse(f"settings-{key}s")
    response = signed_in.post(list_url, {"name": "Procurement froze budgets"}, **extra)
    assert response.status_code == (200 if htmx else 302)
    entry = model.objects.get(name="Procurement froze budgets")
    signed_in.post(
        reverse(f"settings-{key}-update", args=[entry.pk]),
        {f"e{entry.pk}-name": "Budget frozen"},
        **extra,
    )
    entry.refresh_from_db()
    assert entry.name == "Budget frozen"
    signed_in.post(reverse(f"settings-{key}-move", args=[entry.pk]), {"direction": "up"}, **extra)
    assert list(model.objects.order_by("position", "name", "pk"))[-1] != entry or (
        model.objects.count() == 1
    )
    signed_in.post(reverse(f"settings-{key}-retire", args=[entry.pk]), **extra)
    entry.refresh_from_db()
    assert not entry.is_active
    page = signed_in.get(list_url).content.decode()
    assert "Retired" in page
    signed_in.post(reverse(f"settings-{key}-restore", args=[entry.pk]), **extra)
    entry.refresh_from_db()
    assert entry.is_active
    ids = list(model.objects.order_by("-pk").values_list("pk", flat=True))
    response = signed_in.post(reverse(f"settings-{key}-reorder"), {"order": ids}, **extra)
    assert list(model.objects.order_by("position").values_list("pk", flat=True)) == ids


@pytest.mark.parametrize(
    ("key", "model"), [("lost-reason", LostReason), ("product-area", ProductArea)]
)
@pytest.mark.parametrize("name", ["", "x" * 101, "Taken"])
def test_admin_list_bad_names_are_400(signed_in, key, model, name):
    entry = model.objects.create(name="Taken", position=99)
    other = model.objects.create(name="Other", position=100)
    before = list(model.objects.values_list("pk", "name", "position", "is_active"))
    created = signed_in.post(reverse(f"settings-{key}s"), {"name": name}, **HTMX)
    renamed = signed_in.post(
        reverse(f"settings-{key}-update", args=[other.pk]), {f"e{other.pk}-name": name}, **HTMX
    )
    assert created.status_code == renamed.status_code == 400
    assert list(model.objects.values_list("pk", "name", "position", "is_active")) == before
    assert entry.pk


def test_retired_lost_reason_still_shows_on_an_old_deal(signed_in, stages_a):
    reason = LostReason.objects.create(name="Budget frozen", position=90)
    deal = DealFactory(stage=stages_a[0])
    Deal.objects.filter(pk=deal.pk).update(status="lost", lost_reason=reason)
    signed_in.post(reverse("settings-lost-reason-retire", args=[reason.pk]))
    page = signed_in.get(reverse("deal-detail", args=[deal.pk])).content.decode()
    assert "Budget frozen" in page
    assert f'<option value="{reason.pk}"' not in page


def test_deal_edit_form_saves_a_product_area(signed_in, stages_a):
    area = ProductArea.objects.create(name="Racking")
    deal = DealFactory(stage=stages_a[0])
    page = signed_in.get(reverse("deal-detail", args=[deal.pk])).content.decode()
    assert "Racking" in page
    response = signed_in.post(
        reverse("deal-update", args=[deal.pk]),
        {
            "title": deal.title,
            "company": deal.company_id,
            "value": "1000",
            "currency": "EUR",
            "product_area": area.pk,
            "version": deal.version,
        },
    )
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).product_area == area
