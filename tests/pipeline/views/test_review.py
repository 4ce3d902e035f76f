"""The weekly review page and its in-place actions: sections and counts, progress, access
(outsider 404, read-only 403), bad input (400), stale rows (409) - each asserting that
nothing changed - for the htmx and the plain path, and a pinned query count."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from pipeline.forecasting import monday
from pipeline.forms.review import add_months
from pipeline.models import Activity, Deal, DealReview, DealStatus, LostReason, StageChange
from pipeline.selectors.review import ROW_LIMIT
from tests.factories import DealFactory, MembershipFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
SOON = (date.today() + timedelta(days=9)).isoformat()  # a valid due or resume date


def today():
    return timezone.localdate()


def state(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (
        row.stage_id,
        row.position,
        row.status,
        row.version,
        row.owner_id,
        row.value,
        row.expected_close_date,
        row.paused_until,
        row.lost_reason_id,
        row.next_step_id,
        Activity.objects.filter(deal=row).count(),
        DealReview.objects.filter(deal=row).count(),
    )


@pytest.fixture
def deal(stages_a, alice):
    """Alice's deal in the second stage, closing in 5 days, without a next step."""
    return DealFactory(
        stage=stages_a[1],
        owner=alice,
        title="Forklifts",
        expected_close_date=today() + timedelta(days=5),
    )


@pytest.fixture
def reason(db):
    return LostReason.objects.create(name="Price")


def url(name, deal):
    return reverse(name, args=[deal.pk])


def post(client, name, deal, data=None, *, htmx=True, section="closing-soon"):
    payload = {"section": section, "version": deal.version, **(data or {})}
    return client.post(url(name, deal), payload, **(HTMX if htmx else {}))


# --- the page -----------------------------------------------------------------------------


def test_sections_show_the_deals_that_need_a_decision(client, bob, alice, stages_a):
    now = timezone.now()
    soon = DealFactory(stage=stages_a[0], owner=alice, expected_close_date=today() + timedelta(3))
    overdue = DealFactory(
        stage=stages_a[0], owner=alice, expected_close_date=today() - timedelta(2)
    )
    later = DealFactory(stage=stages_a[0], owner=alice, expected_close_date=today() + timedelta(20))
    far = DealFactory(stage=stages_a[0], owner=alice, expected_close_date=today() + timedelta(60))
    stale = DealFactory(
        stage=stages_a[2],
        owner=alice,
        last_movement_at=now - timedelta(days=23),
        rots_at=now - timedelta(days=9),
    )
    client.force_login(bob)
    response = client.get(reverse("review"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="review-closing-soon-{soon.pk}"' in html
    assert f'id="review-closing-soon-{overdue.pk}"' in html
    assert f'id="review-closing-later-{later.pk}"' in html
    assert (
        f"review-closing-soon-{far.pk}" not in html and f"review-closing-later-{far.pk}" not in html
    )
    assert f'id="review-stale-{stale.pk}"' in html
    assert "No movement for 23 days; this stage allows 14" in html
    # None of them has a next step: all five are in that section.
    for d in (soon, overdue, later, far, stale):
        assert f'id="review-next-step-{d.pk}"' in html
    # Distinct deals, though most appear in two sections.
    assert "<strong>0</strong> of 5 reviewed" in html
    assert "Nothing changed since last week" in html  # empty state (no snapshot yet)


def test_a_deal_with_a_next_step_on_time_is_not_in_the_next_step_section(client, bob, deal, alice):
    services.activity_create(
        acting_user=alice, deal=deal, subject="Call", due_date=today() + timedelta(1)
    )
    client.force_login(bob)
    html = client.get(reverse("review")).content.decode()
    assert f"review-next-step-{deal.pk}" not in html
    assert "Every open deal has a next step on time." in html


def test_changes_since_the_snapshot(client, bob, alice, stages_a, reason):
    old = {"stage": stages_a[0], "owner": alice, "created_at": timezone.now() - timedelta(8)}
    moved = DealFactory(title="Moved one", **old)
    revalued = DealFactory(title="Revalued one", **old)
    slipped = DealFactory(expected_close_date=today() + timedelta(40), **old)
    lost = DealFactory(**old)
    untouched = DealFactory(**old)
    services.forecast_snapshot_take(now=timezone.now() - timedelta(minutes=1))
    services.deal_move(acting_user=bob, deal=moved, stage_id=stages_a[2].pk, version=None)
    services.deal_update(
        acting_user=bob, deal=revalued, version=revalued.version, data={"value": Decimal(5000)}
    )
    services.deal_update(
        acting_user=bob,
        deal=slipped,
        version=slipped.version,
        data={"expected_close_date": today() + timedelta(70)},
    )
    services.deal_mark_lost(acting_user=bob, deal=lost, version=None, reason=reason)
    new = DealFactory(stage=stages_a[0], owner=alice, title="Brand new")
    client.force_login(bob)
    html = client.get(reverse("review")).content.decode()
    for d in (moved, revalued, slipped, lost, new):
        assert f'id="review-changes-{d.pk}"' in html
    assert f"review-changes-{untouched.pk}" not in html
    assert "Moved Lead in → Proposal" in html
    assert "Value €1,000 → €5,000" in html
    assert "Close date slipped" in html
    assert "Lost this week" in html and "New this week" in html


def test_sections_are_capped_with_a_link_to_the_board(client, bob, alice, stages_a, pipeline_a):
    for _ in range(ROW_LIMIT + 3):
        DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(bob)
    html = client.get(reverse("review")).content.decode()
    assert html.count('id="review-next-step-') == ROW_LIMIT
    assert "and 3 more" in html
    assert f'href="/pipelines/{pipeline_a.pk}/board/?attention=1"' in html


def test_team_choice(client, admin, bob, carol, team_b, stages_b):
    other = DealFactory(stage=stages_b[0], owner=carol, title="Southern deal")
    client.force_login(admin)
    assert "Southern deal" in client.get(reverse("review"), {"team": team_b.pk}).content.decode()
    client.force_login(bob)
    assert client.get(reverse("review"), {"team": team_b.pk}).status_code == 404
    assert client.get(reverse("review"), {"team": "abc"}).status_code == 400
    assert client.get(reverse("review"), {"team": "999999"}).status_code == 404
    assert "Southern deal" not in client.get(reverse("review")).content.decode()
    client.force_login(carol)  # a salesperson: their own team, read-only marks
    html = client.get(reverse("review")).content.decode()
    assert f'id="review-next-step-{other.pk}"' in html and "review-check" not in html


def _bulk_deals(stages, owner, count):
    now = timezone.now()
    start = Deal.objects.count() * 1024 + 1024
    Deal.objects.bulk_create(
        Deal(
            title=f"Bulk {i}",
            pipeline=stages[0].pipeline,
            stage=stages[i % len(stages)],
            owner=owner,
            position=start + i * 1024,
            value=Decimal(1000),
            expected_close_date=today() + timedelta(days=i * 17 % 30),
            last_movement_at=now - timedelta(days=30),
            rots_at=now - timedelta(days=i % 3),
        )
        for i in range(count)
    )


def test_query_count_is_the_same_for_3_and_300_deals(client, bob, alice, stages_a):
    """Pinned, 9 queries: (1) the user (the session comes from the shared cache), (2) their
    memberships (access), (3) the teams for the switcher, (4) the stages with their pipelines,
    (5) the last snapshot, (6) its exchange rates, (7) one aggregate for every section's count
    and the progress, (8) the ids of each section's first rows (one UNION ALL), (9) those rows
    with everything they show. The bell's unread count loads after the page."""
    client.force_login(bob)
    DealFactory(stage=stages_a[0], owner=alice)  # a snapshot needs something to hold
    services.forecast_snapshot_take()
    counts = []
    for total in (3, 300):
        _bulk_deals(stages_a, alice, total - Deal.objects.count())
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("review"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == 8, counts


# --- more rows of a section, a page at a time ----------------------------------------------


def _section_url(key="next-step"):
    return reverse("review-section", args=[key])


def _row_ids(html, key="next-step"):
    import re

    return re.findall(rf'id="review-{key}-(\d+)"', html)


def test_show_more_pages_through_a_section_in_order(client, bob, alice, stages_a):
    _bulk_deals(stages_a, alice, 2 * ROW_LIMIT + 5)
    client.force_login(bob)
    first = _row_ids(client.get(reverse("review")).content.decode())
    html = client.get(_section_url(), {"page": 2}, **HTMX).content.decode()
    second = _row_ids(html)
    assert len(first) == len(second) == ROW_LIMIT and not set(first) & set(second)
    # htmx: the rows are appended to the section, the "more" line moves on to page 3
    assert 'hx-swap-oob="beforeend:#section-next-step-rows"' in html
    assert "page=3" in html and "and 5 more" in html
    last = client.get(_section_url(), {"page": 3}, **HTMX).content.decode()
    assert len(_row_ids(last)) == 5 and "All of them are shown." in last
    every = first + second + _row_ids(last)
    assert len(set(every)) == 2 * ROW_LIMIT + 5


def test_section_page_without_javascript_links_previous_and_next(client, bob, alice, stages_a):
    _bulk_deals(stages_a, alice, 2 * ROW_LIMIT + 5)
    client.force_login(bob)
    html = client.get(_section_url(), {"page": 2}).content.decode()
    assert "<html" in html and "Page 2 of 3" in html
    assert 'rel="prev"' in html and 'rel="next"' in html and len(_row_ids(html)) == ROW_LIMIT


def test_a_page_past_the_last_shows_the_last_and_says_so(client, bob, alice, stages_a):
    _bulk_deals(stages_a, alice, ROW_LIMIT + 2)
    client.force_login(bob)
    response = client.get(_section_url(), {"page": 50})
    html = response.content.decode()
    assert response.status_code == 200 and "There is no page 50" in html
    assert "Page 2 of 2" in html and len(_row_ids(html)) == 2


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "100001"])
def test_bad_page_is_400_with_a_message(client, bob, alice, stages_a, page):
    _bulk_deals(stages_a, alice, 3)
    client.force_login(bob)
    for headers in ({}, HTMX):
        response = client.get(_section_url(), {"page": page}, **headers)
        assert response.status_code == 400
        assert 'id="review-next-step-' not in response.content.decode()


def test_section_page_of_another_team_is_404(client, bob, carol, team_b, stages_b):
    DealFactory(stage=stages_b[0], owner=carol, title="Southern deal")
    client.force_login(bob)
    response = client.get(_section_url(), {"team": team_b.pk, "page": 1})
    assert response.status_code == 404 and "Southern deal" not in response.content.decode()
    assert client.get(_section_url("no-such-section")).status_code == 404


def test_salesperson_pages_only_through_what_they_see(client, carol, alice, stages_a):
    _bulk_deals(stages_a, alice, ROW_LIMIT + 2)
    client.force_login(carol)  # team B: team A's section is not theirs
    assert client.get(_section_url(), {"page": 2}).status_code == 200
    assert _row_ids(client.get(_section_url(), {"page": 2}).content.decode()) == []


def test_section_page_query_count_is_the_same_for_30_and_300_deals(client, bob, alice, stages_a):
    """Pinned, 7 queries: (1) the user with their memberships (the session comes from the
    shared cache), (2) the teams, (3) the stages with their pipelines, (4) the last snapshot,
    (5) the section's count, (6) the page's ids, (7) its rows (no snapshot yet, so no
    exchange rates)."""
    client.force_login(bob)
    counts = []
    for total in (30, 300):
        _bulk_deals(stages_a, alice, total - Deal.objects.count())
        with CaptureQueriesContext(connection) as queries:
            response = client.get(_section_url(), {"page": 2}, **HTMX)
        assert response.status_code == 200 and len(_row_ids(response.content.decode()))
        counts.append(len(queries))
    assert counts[0] == counts[1] == 7, counts


# --- actions: happy paths -----------------------------------------------------------------


def test_set_the_next_step_in_the_row(client, bob, alex, deal):
    client.force_login(bob)
    data = {
        "kind": "meeting",
        "subject": "Demo at the warehouse",
        "due_date": (today() + timedelta(3)).isoformat(),
        "assignee": alex.pk,
    }
    response = post(client, "review-next-step", deal, data)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.next_step_subject == "Demo at the warehouse"
    assert deal.next_step_assignee == alex
    html = response.content.decode()
    assert f'id="review-closing-soon-{deal.pk}"' in html
    assert "Next step planned: Demo at the warehouse." in html
    assert "review:changed" in response["HX-Trigger-After-Settle"]


def test_the_panel_opens_in_the_row(client, bob, deal):
    client.force_login(bob)
    response = client.get(url("review-next-step", deal), {"section": "stale"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="review-stale-{deal.pk}"' in html and 'name="subject"' in html
    assert "<html" not in html


def test_reassign(client, bob, alex, deal):
    client.force_login(bob)
    response = post(client, "review-owner", deal, {"owner": alex.pk})
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.owner == alex and deal.version == 2
    assert "Given to Alex Aune." in response.content.decode()


@pytest.mark.parametrize(
    ("push", "expected"),
    [
        ("week", lambda before: before + timedelta(days=7)),
        ("month", lambda before: add_months(before, 1)),
        ("date", lambda before: today() + timedelta(days=40)),
    ],
)
def test_push_the_close_date(client, bob, deal, push, expected):
    client.force_login(bob)
    before = deal.expected_close_date
    data = {"push": push, "date": (today() + timedelta(days=40)).isoformat()}
    response = post(client, "review-close-date", deal, data)
    assert response.status_code == 200
    assert "Close date moved to" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).expected_close_date == expected(before)


def test_push_an_overdue_close_date_counts_from_today(client, bob, deal):
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=today() - timedelta(days=10))
    client.force_login(bob)
    assert post(client, "review-close-date", deal, {"push": "week"}).status_code == 200
    assert Deal.objects.get(pk=deal.pk).expected_close_date == today() + timedelta(days=7)


def test_pause(client, bob, deal):
    client.force_login(bob)
    until = today() + timedelta(days=60)
    data = {"until": until.isoformat(), "reason": "Budget next year"}
    response = post(client, "review-pause", deal, data)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.status == DealStatus.PAUSED and deal.paused_until == until
    assert "Paused until" in response.content.decode()


def test_move_back_a_stage(client, bob, deal, stages_a):
    client.force_login(bob)
    response = post(client, "review-move-back", deal)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == stages_a[0]
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[0]).exists()
    html = response.content.decode()
    assert "Moved back to Lead in." in html
    assert "Already in the first stage" in html  # the button is now disabled


def test_mark_lost(client, bob, deal, reason):
    client.force_login(bob)
    response = post(client, "review-lost", deal, {"reason": reason.pk, "note": "Too dear"})
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST and deal.lost_reason == reason
    assert "Marked as lost: Price." in response.content.decode()


def test_mark_reviewed_and_undo_updates_the_progress_out_of_band(client, bob, deal):
    client.force_login(bob)
    response = post(client, "review-mark", deal, {"reviewed": "1"})
    assert response.status_code == 200
    assert DealReview.objects.filter(deal=deal, week=monday(today())).exists()
    html = response.content.decode()
    assert 'id="review-progress" class="review-progress" hx-swap-oob="true"' in html
    assert "<strong>1</strong> of 1 reviewed" in html
    response = post(client, "review-mark", deal, {"reviewed": "0"})
    assert not DealReview.objects.filter(deal=deal).exists()
    assert "<strong>0</strong> of 1 reviewed" in response.content.decode()


def test_admin_acts_on_any_team(client, admin, carol, stages_b):
    other = DealFactory(stage=stages_b[1], owner=carol)
    client.force_login(admin)
    assert post(client, "review-move-back", other).status_code == 200
    assert Deal.objects.get(pk=other.pk).stage == stages_b[0]


def test_salesperson_acts_on_their_own_deal(client, alice, deal):
    client.force_login(alice)
    assert post(client, "review-close-date", deal, {"push": "week"}).status_code == 200
    assert Deal.objects.get(pk=deal.pk).version == 2


# --- plain path ---------------------------------------------------------------------------


def test_plain_post_redirects_to_the_review(client, bob, deal, team_a):
    client.force_login(bob)
    response = post(client, "review-close-date", deal, {"push": "week"}, htmx=False)
    assert response.status_code == 302
    assert response["Location"] == f"/review/?team={team_a.pk}#review-closing-soon-{deal.pk}"
    assert Deal.objects.get(pk=deal.pk).version == 2


def test_plain_get_opens_the_action_as_a_page(client, bob, deal):
    client.force_login(bob)
    response = client.get(url("review-pause", deal), {"section": "stale"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'name="reason"' in html


def test_plain_bad_input_is_400_on_the_page(client, bob, deal):
    before = state(deal)
    client.force_login(bob)
    response = post(client, "review-pause", deal, {"until": "", "reason": ""}, htmx=False)
    assert response.status_code == 400 and "<html" in response.content.decode()
    assert state(deal) == before


# --- outsiders, read-only users, bad input, stale rows --------------------------------------

ACTIONS = [
    ("review-next-step", {"subject": "Call", "due_date": SOON, "kind": "call"}),
    ("review-owner", {"owner": ""}),
    ("review-close-date", {"push": "week"}),
    ("review-pause", {"until": SOON, "reason": "Later"}),
    ("review-move-back", {}),
    ("review-lost", {"reason": "1"}),
    ("review-mark", {"reviewed": "1"}),
]


@pytest.mark.parametrize(("name", "data"), ACTIONS)
def test_outsider_gets_404_and_nothing_changes(client, carol, deal, name, data):
    before = state(deal)
    client.force_login(carol)
    assert post(client, name, deal, data).status_code == 404
    assert post(client, name, deal, data, htmx=False).status_code == 404
    assert client.get(url(name, deal), {"section": "stale"}).status_code in (404, 405)
    assert state(deal) == before


def test_outsider_cannot_read_a_row(client, carol, deal):
    client.force_login(carol)
    assert client.get(url("review-row", deal), {"section": "stale"}).status_code == 404


@pytest.mark.parametrize(("name", "data"), ACTIONS)
def test_colleague_gets_403_and_nothing_changes(client, alex, deal, name, data):
    before = state(deal)
    client.force_login(alex)
    response = post(client, name, deal, data)
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#toasts"
    assert state(deal) == before


@pytest.mark.parametrize(
    ("name", "data"), [("review-owner", {"owner": ""}), ("review-mark", {"reviewed": "1"})]
)
def test_salesperson_may_not_reassign_or_mark_their_own_deal(client, alice, deal, name, data):
    before = state(deal)
    client.force_login(alice)
    assert post(client, name, deal, data).status_code == 403
    assert state(deal) == before


BAD_INPUT = [
    ("review-next-step", {"subject": "", "due_date": SOON, "kind": "call"}),
    ("review-next-step", {"subject": "x" * 201, "due_date": SOON, "kind": "call"}),
    ("review-next-step", {"subject": "Call", "due_date": "not a date", "kind": "call"}),
    ("review-next-step", {"subject": "Call", "due_date": SOON, "kind": "fax"}),
    ("review-owner", {"owner": "999999"}),
    ("review-owner", {"owner": "abc"}),
    ("review-close-date", {"push": "year"}),
    ("review-close-date", {"push": "date", "date": ""}),
    ("review-close-date", {"push": "date", "date": "2001-01-01"}),
    ("review-close-date", {"push": "week", "version": "abc"}),
    ("review-close-date", {"push": "week", "version": "-3"}),
    ("review-pause", {"until": "2001-01-01", "reason": "Later"}),
    ("review-pause", {"until": SOON, "reason": ""}),
    ("review-lost", {"reason": ""}),
    ("review-lost", {"reason": "999999"}),
]


@pytest.mark.parametrize(("name", "data"), BAD_INPUT)
def test_bad_input_is_400_in_the_row_and_nothing_changes(client, bob, deal, reason, name, data):
    before = state(deal)
    client.force_login(bob)
    response = post(client, name, deal, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="review-closing-soon-{deal.pk}"' in html  # shown in the row
    assert 'class="errorlist' in html
    assert state(deal) == before


@pytest.mark.parametrize("section", ["", "nowhere", "x" * 300])
def test_bad_section_is_400_and_nothing_changes(client, bob, deal, section):
    before = state(deal)
    client.force_login(bob)
    response = post(client, "review-close-date", deal, {"push": "week"}, section=section)
    assert response.status_code == 400
    assert post(client, "review-mark", deal, {"reviewed": "1"}, section=section).status_code == 400
    assert post(client, "review-mark", deal, {"reviewed": "maybe"}).status_code == 400
    assert state(deal) == before


def test_move_back_in_the_first_stage_is_400_and_nothing_changes(client, bob, stages_a, alice):
    first = DealFactory(stage=stages_a[0], owner=alice, expected_close_date=today())
    before = state(first)
    client.force_login(bob)
    response = post(client, "review-move-back", first)
    assert response.status_code == 400
    assert "in the first stage already" in response.content.decode()
    assert state(first) == before


def test_pausing_a_closed_deal_is_400_and_nothing_changes(client, bob, deal, reason):
    services.deal_mark_lost(acting_user=bob, deal=deal, version=None, reason=reason)
    deal.refresh_from_db()
    before = state(deal)
    client.force_login(bob)
    data = {"until": (today() + timedelta(9)).isoformat(), "reason": "Later"}
    assert post(client, "review-pause", deal, data).status_code == 400
    assert state(deal) == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("review-close-date", {"push": "week"}),
        ("review-owner", {"owner": ""}),
        ("review-pause", {"until": SOON, "reason": "Later"}),
        ("review-move-back", {}),
        ("review-lost", {"reason": "1"}),
        ("review-next-step", {"subject": "Call", "due_date": SOON, "kind": "call"}),
    ],
)
def test_stale_row_is_409_in_the_row_and_nothing_changes(client, bob, deal, reason, name, data):
    if name == "review-lost":
        data = {"reason": reason.pk}
    if name == "review-next-step":
        data = {**data, "assignee": deal.owner_id}
    stale_version = deal.version
    services.deal_update(
        acting_user=bob, deal=deal, version=deal.version, data={"title": "Renamed elsewhere"}
    )
    deal.refresh_from_db()
    before = state(deal)
    client.force_login(bob)
    response = client.post(
        url(name, deal), {"section": "stale", "version": stale_version, **data}, **HTMX
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert f'id="review-stale-{deal.pk}"' in html
    assert "Someone else changed this deal a moment ago" in html
    assert "Renamed elsewhere" in html  # the row as it is now
    assert state(deal) == before
    if name != "review-move-back":  # the form keeps the input, with the current version
        assert f'name="version" value="{deal.version}"' in html


def test_owner_outside_the_team_is_400_and_nothing_changes(client, bob, deal, team_b):
    outsider = UserFactory(username="olga")
    MembershipFactory(user=outsider, team=team_b)
    before = state(deal)
    client.force_login(bob)
    assert post(client, "review-owner", deal, {"owner": outsider.pk}).status_code == 400
    assert state(deal) == before


def test_changes_probe_each_deals_snapshot_line_instead_of_reading_the_whole_run(
    client, bob, alice, stages_a
):
    """The snapshot run holds a line for every open deal of the organisation; the changes
    section tests a team's changed deals against their own lines. Written as EXISTS under OR,
    PostgreSQL may plan a "hashed SubPlan" that reads every line of the run into a hash
    (twice: 2 x 12 ms at make bench's 110k lines, seconds in a big install); a scalar subquery
    on the (run, deal) index is probed per deal and cannot be planned that way."""
    _bulk_deals(stages_a, alice, 30)
    services.forecast_snapshot_take(now=timezone.now() - timedelta(minutes=1))
    client.force_login(bob)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("review")).status_code == 200
    statements = [q["sql"] for q in captured.captured_queries if "forecastsnapshotline" in q["sql"]]
    assert statements
    for sql in statements:
        assert 'EXISTS(SELECT 1 AS "a" FROM "pipeline_forecastsnapshotline"' not in sql
