"""The analytics pages: the role matrix, bad filters answered with 400, CSV exports and fixed
query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline.models import LostReason, StageChange
from pipeline.services.analytics import analytics_refresh
from tests.factories import DealFactory

PAGES = [
    "analytics-funnel",
    "analytics-time-in-stage",
    "analytics-reps",
    "analytics-losses",
    "analytics-velocity",
]


def names(content: str, *first_names: str) -> list[str]:
    """The people among `first_names` the page names, as whole words: the companies' generated
    names may contain one ("Drake-Alexander")."""
    return [n for n in first_names if re.search(rf"(?<![\w-]){n}(?![\w-])", content)]


def _deal(stage, owner, *, status="open", title=None, reason=None, later=None):
    now = timezone.now()
    deal = DealFactory(
        stage=later or stage,
        owner=owner,
        status=status,
        title=title or f"Deal of {owner.username}",
        created_at=now - timedelta(days=20),
        closed_at=now - timedelta(days=1) if status != "open" else None,
        lost_reason=reason,
        lost_from_stage=(later or stage) if status == "lost" else None,
    )
    StageChange.objects.create(deal=deal, to_stage=stage, at=now - timedelta(days=20))
    if later:
        StageChange.objects.create(
            deal=deal, from_stage=stage, to_stage=later, at=now - timedelta(days=10)
        )
    return deal


@pytest.fixture
def deals(alice, alex, stages_a):
    reason = LostReason.objects.create(name="Price")
    return [
        _deal(stages_a[0], alice, title="Alice open", later=stages_a[1]),
        _deal(stages_a[0], alice, status="won", title="Alice won", later=stages_a[2]),
        _deal(stages_a[0], alex, status="lost", title="Alex lost", reason=reason),
        _deal(stages_a[0], alex, title="Alex open"),
    ]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("persona", ["admin", "bob", "alice"])
def test_members_see_the_page(client, request, deals, name, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"analytics-tabs" in response.content


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("name", PAGES)
def test_outsider_sees_none_of_team_a(client, carol, deals, stages_b, name):
    client.force_login(carol)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert not names(response.content.decode(), "Alice", "Alex")
    refused = client.get(reverse(name), {"pipeline": deals[0].pipeline_id})
    assert refused.status_code == 400


def test_manager_sees_every_rep(client, bob, deals):
    client.force_login(bob)
    content = client.get(reverse("analytics-reps")).content.decode()
    assert "Alice Andersen" in content and "Alex Aune" in content


@pytest.mark.parametrize("name", PAGES)
def test_salesperson_sees_only_own_row(client, alice, alex, deals, name):
    client.force_login(alice)
    content = client.get(reverse(name), {"export": "csv"}).content.decode()
    assert not names(content, "Alex")
    assert client.get(reverse(name), {"rep": alex.pk}).status_code == 400


def test_salesperson_figures_are_their_own(client, alice, deals):
    client.force_login(alice)
    lines = client.get(reverse("analytics-funnel"), {"export": "csv"}).content.decode()
    lead_in = next(line for line in lines.splitlines() if line.startswith("Lead in"))
    assert lead_in.split(",")[1] == "2"  # alice's two deals, not all four


def test_own_deals_team_hides_colleagues(client, alice, team_a, deals):
    team_a.own_deals_only = True
    team_a.save()
    client.force_login(alice)
    for name in PAGES:
        content = client.get(reverse(name), {"export": "csv"}).content.decode()
        assert not names(content, "Alex")


BAD = [
    {"pipeline": "999999"},
    {"pipeline": "abc"},
    {"from": "2026-13-45"},
    {"to": "yesterday"},
    {"from": "2026-05-01", "to": "2026-01-01"},
    {"from": "1900-01-01"},
    {"from": "2000-01-01", "to": "2026-01-01"},
    {"sort": "owner_id; DROP TABLE pipeline_deal"},
    {"sort": "-pk"},
    {"basis": "everything"},
    {"tier": "Z"},
    {"area": "999"},
    {"rep": "x"},
    {"team": "0"},
    {"export": "pdf"},
    {"export": "XLSX"},
]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("params", BAD)
def test_bad_filters_answer_400(client, bob, deals, name, params):
    client.force_login(bob)
    response = client.get(reverse(name), params)
    assert response.status_code == 400
    assert response.content  # a message, not an empty answer


def test_foreign_pipeline_answers_400(client, bob, deals, stages_b):
    client.force_login(bob)
    response = client.get(reverse("analytics-funnel"), {"pipeline": stages_b[0].pipeline_id})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"stage": "999999"}, {"stage": "x"}, {}, {"outcome": "nope"}, {"cell_rep": "12345"}],
)
def test_bad_drill_down_answers_400(client, bob, deals, stages_a, params):
    client.force_login(bob)
    if params and "stage" not in params:
        params = {"stage": stages_a[0].pk, **params}
    assert client.get(reverse("analytics-deals"), params).status_code == 400


def test_drill_down_of_foreign_stage_answers_400(client, bob, deals, stages_b):
    client.force_login(bob)
    response = client.get(reverse("analytics-deals"), {"stage": stages_b[0].pk})
    assert response.status_code == 400


def test_drill_down_lists_the_cell_deals(client, bob, alice, deals, stages_a):
    client.force_login(bob)
    response = client.get(
        reverse("analytics-deals"), {"stage": stages_a[0].pk, "cell_rep": alice.pk}
    )
    content = response.content.decode().split('id="drill-table"')[1]
    assert response.status_code == 200
    assert "Alice open" in content and "Alice won" in content and not names(content, "Alex")
    lost = client.get(reverse("analytics-deals"), {"stage": stages_a[0].pk, "outcome": "lost"})
    table = lost.content.decode().split('id="drill-table"')[1]
    assert "Alex lost" in table and "Alice open" not in table


def test_salesperson_cannot_drill_into_colleague(client, alice, alex, deals, stages_a):
    client.force_login(alice)
    response = client.get(reverse("analytics-deals"), {"stage": stages_a[0].pk})
    assert not names(response.content.decode(), "Alex")
    refused = client.get(reverse("analytics-deals"), {"stage": stages_a[0].pk, "cell_rep": alex.pk})
    assert refused.status_code == 400


@pytest.mark.parametrize("name", PAGES)
def test_csv_export_is_formula_safe(client, bob, alice, deals, name):
    alice.first_name = "=HYPERLINK(1)"
    alice.save()
    deals[1].lost_reason = None
    LostReason.objects.filter(name="Price").update(name="+cmd")
    client.force_login(bob)
    response = client.get(reverse(name), {"export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "\n=" not in text and ",=" not in text and ",+cmd" not in text
    assert text.splitlines()[0]


def test_filters_are_kept_in_links(client, bob, deals, stages_a):
    client.force_login(bob)
    response = client.get(reverse("analytics-funnel"), {"tier": "A", "basis": "active"})
    content = response.content.decode()
    assert "tier=A" in content and "basis=active" in content


def _more_deals(alice, alex, stages_a, count):
    for i in range(count):
        _deal(stages_a[0], alice if i % 2 else alex, later=stages_a[i % 3 + 1])


@pytest.mark.parametrize("name", [*PAGES, "analytics-deals"])
def test_query_count_is_fixed(client, bob, alice, alex, deals, stages_a, name):
    client.force_login(bob)
    params = {"stage": stages_a[0].pk} if name == "analytics-deals" else {}
    client.get(reverse(name), params)  # session and caches warm
    cache.clear()  # the figures computed, not read from the cache
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name), params).status_code == 200
    _more_deals(alice, alex, stages_a, 30)
    analytics_refresh()
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse(name), params).status_code == 200
    assert len(few) == len(many)
    assert len(many) <= 14


@pytest.mark.parametrize("name", PAGES)
def test_figures_are_as_of_the_last_refresh(client, bob, alice, alex, deals, stages_a, name):
    """Served from the cache until the stage visits are next refreshed, then computed anew."""
    client.force_login(bob)
    first = _main(client.get(reverse(name)))
    assert "as of" in first
    _more_deals(alice, alex, stages_a, 5)
    _deal(stages_a[0], alice, status="lost", reason=LostReason.objects.get(name="Price"))
    with CaptureQueriesContext(connection) as cached:
        assert _main(client.get(reverse(name))) == first
    analytics_refresh()
    with CaptureQueriesContext(connection) as computed:
        assert _main(client.get(reverse(name))) != first
    assert len(cached) < len(computed)


def _main(response) -> str:
    """The page's content without the per-request tokens (CSRF, CSP nonce)."""
    text = response.content.decode()
    text = text[text.index("<main") : text.index("</main>")]
    return re.sub(r'(nonce|value)="[^"]*"', "", text)


# --- a long history is rebuilt in the background, never on a page ---------------------------


@pytest.fixture
def long_history(monkeypatch, deals):
    """Every history counts as long; the queued task is recorded instead of sent."""
    from pipeline import tasks
    from pipeline.services import analytics

    monkeypatch.setattr(analytics, "INLINE_REBUILD_LIMIT", 0)
    queued = []
    monkeypatch.setattr(tasks.analytics_refresh, "apply_async", lambda **kw: queued.append(kw))
    return queued


def test_a_first_rebuild_of_a_long_history_is_queued_not_done_by_the_page(
    client, bob, long_history
):
    from pipeline.models import StageVisit

    client.force_login(bob)
    response = client.get(reverse("analytics-funnel"))
    assert response.status_code == 200
    assert "being prepared" in response.content.decode()
    assert [kw["retry"] for kw in long_history] == [False]  # queued once, never retried
    assert StageVisit.objects.count() == 0  # left to the background task


def test_a_broker_outage_leaves_the_page_working(client, bob, monkeypatch, long_history):
    from pipeline import tasks

    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.analytics_refresh, "apply_async", down)
    client.force_login(bob)
    response = client.get(reverse("analytics-time-in-stage"))
    assert response.status_code == 200
    assert "being prepared" in response.content.decode()


def test_a_reorder_keeps_the_figures_as_of_their_refresh_until_the_rebuild(
    client, bob, stages_a, long_history
):
    from pipeline.models import AnalyticsRefresh, StageVisit
    from pipeline.services.analytics import MAX_AGE

    analytics_refresh()
    visits = StageVisit.objects.count()
    stages_a[0].position, stages_a[1].position = stages_a[1].position, stages_a[0].position
    stages_a[0].save(update_fields=["position"])
    stages_a[1].save(update_fields=["position"])
    stale = timezone.now() - MAX_AGE * 2
    AnalyticsRefresh.objects.update(refreshed_at=stale)
    client.force_login(bob)
    response = client.get(reverse("analytics-funnel"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "being prepared" not in body
    assert f"as of {timezone.localtime(stale):%H:%M}" in body
    assert [kw["retry"] for kw in long_history] == [False]  # queued once, never retried
    assert StageVisit.objects.count() == visits
    assert AnalyticsRefresh.objects.get().refreshed_at == stale
