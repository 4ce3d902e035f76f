from __future__ import annotations

import html as htmllib
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from pipeline.models import Deal
from tests.factories import (
    CompanyFactory,
    DealFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }} {% now 'Y' %}",
    '<a hx-get="/admin/" hx-trigger="load">x</a>',
]


def board_url(pipeline, **query):
    url = reverse("board", args=[pipeline.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def test_home_redirects_to_the_users_board(client, alice, pipeline_a, stages_a):
    client.force_login(alice)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == board_url(pipeline_a)


def test_home_without_a_pipeline_explains_what_to_do(client, db):

    client.force_login(UserFactory(username="loner"))
    response = client.get("/")
    assert response.status_code == 200
    assert b"No pipeline yet" in response.content


def test_pipeline_switcher_without_javascript(client, alice, pipeline_a, stages_a, pipeline_b):
    client.force_login(alice)
    assert client.get(f"/?pipeline={pipeline_a.pk}")["Location"] == board_url(pipeline_a)
    assert client.get(f"/?pipeline={pipeline_b.pk}").status_code == 404


def test_anonymous_is_sent_to_login(client, pipeline_a):
    response = client.get(board_url(pipeline_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_board_shows_columns_cards_and_totals(client, alice, stages_a):
    DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet", value=1000, currency="EUR")
    DealFactory(stage=stages_a[0], owner=alice, title="Racking", value=10000, currency="DKK")
    client.force_login(alice)
    response = client.get(board_url(stages_a[0].pipeline))
    html = response.content.decode()
    assert response.status_code == 200
    for stage in stages_a:
        assert f'id="stage-{stage.pk}"' in html
    assert "Forklift fleet" in html and "Racking" in html
    column = response.context["columns"][0]
    assert column.totals.count == 2
    # 1000 EUR + 10000 DKK at 0.1341 = 2341.00 EUR, weighted at 10 %.
    assert str(column.totals.value) == "2341.00"
    assert str(column.totals.weighted) == "234.10"


def test_outsider_gets_404_for_another_teams_board(client, carol, pipeline_a, stages_a):
    client.force_login(carol)
    assert client.get(board_url(pipeline_a)).status_code == 404


def test_switcher_lists_the_visible_active_pipelines_and_an_archived_board_still_opens(
    client, alice, team_a, pipeline_a, stages_a, pipeline_b
):
    """The board reads its pipeline and the switcher's in one query: the user's teams' active
    pipelines in order; an archived pipeline opens by its address but is not offered."""
    from tests.factories import PipelineFactory

    renewals = PipelineFactory(team=team_a, name="Renewals", position=5)
    old = PipelineFactory(team=team_a, name="Old deals", position=1, is_archived=True)
    client.force_login(alice)
    response = client.get(board_url(pipeline_a))
    assert response.status_code == 200
    assert response.context["pipelines"] == [pipeline_a, renewals]
    archived = client.get(board_url(old))
    assert archived.status_code == 200
    assert archived.context["pipeline"] == old
    assert archived.context["pipelines"] == [pipeline_a, renewals]
    assert client.get(board_url(pipeline_b)).status_code == 404  # another team's


def test_cards_leave_the_won_and_lost_chips_to_the_board_script(client, alice, stages_a):
    """Bytes per card (docs/performance.md): the chips every card shows are put on by
    static/js/board.js from #board's data-title-won and data-title-lost, not sent per card."""
    DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet")
    client.force_login(alice)
    html = client.get(board_url(stages_a[0].pipeline)).content.decode()
    assert 'class="card-meta"' in html and "chip-won" not in html
    assert 'data-title-won="Won" data-title-lost="Lost"' in html


def test_admin_sees_every_board(client, admin, pipeline_b, stages_b):
    client.force_login(admin)
    assert client.get(board_url(pipeline_b)).status_code == 200


def test_own_deals_only_team_hides_colleagues_deals(client, alice, alex, team_a, stages_a):
    team_a.own_deals_only = True
    team_a.save()
    DealFactory(stage=stages_a[0], owner=alice, title="Mine")
    DealFactory(stage=stages_a[0], owner=alex, title="Colleague")
    DealFactory(stage=stages_a[0], owner=None, title="Nobody's")
    client.force_login(alice)
    html = client.get(board_url(stages_a[0].pipeline)).content.decode()
    assert "Mine" in html and "Nobody&#x27;s" in html.replace("&#39;", "&#x27;")
    assert "Colleague" not in html


def test_filters_by_owner_and_text_and_survive_in_the_query(client, alice, alex, stages_a):
    DealFactory(stage=stages_a[0], owner=alice, title="Alpha tender")
    DealFactory(stage=stages_a[0], owner=alex, title="Beta tender")
    DealFactory(stage=stages_a[1], owner=alice, title="Gamma")
    client.force_login(alice)
    pipeline = stages_a[0].pipeline
    html = client.get(board_url(pipeline, owner="me")).content.decode()
    assert "Alpha" in html and "Gamma" in html and "Beta" not in html
    html = client.get(board_url(pipeline, q="tender")).content.decode()
    assert "Alpha" in html and "Beta" in html and "Gamma" not in html
    assert 'value="tender"' in html
    html = client.get(board_url(pipeline, owner=alex.pk, q="tender")).content.decode()
    assert "Beta" in html and "Alpha" not in html


def test_filter_by_company_name(client, alice, team_a, stages_a):
    DealFactory(
        stage=stages_a[0],
        owner=alice,
        title="Anything",
        company=CompanyFactory(team=team_a, name="Hanse Maschinenbau"),
    )
    client.force_login(alice)
    html = client.get(board_url(stages_a[0].pipeline, q="maschinen")).content.decode()
    assert "Anything" in html


@pytest.mark.parametrize("query", [{"owner": "999999"}, {"owner": "drop table"}, {"q": "x" * 101}])
def test_bad_filter_is_400_with_a_message(client, alice, stages_a, query):
    client.force_login(alice)
    response = client.get(board_url(stages_a[0].pipeline, **query))
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content or b"at most 100" in response.content


def test_person_from_another_team_is_not_a_valid_owner_filter(client, alice, carol, stages_a):
    client.force_login(alice)
    assert client.get(board_url(stages_a[0].pipeline, owner=carol.pk)).status_code == 400


def test_htmx_filter_returns_only_the_board(client, alice, stages_a):
    client.force_login(alice)
    response = client.get(
        board_url(stages_a[0].pipeline, owner="me"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="board"') and "<html" not in html


def test_columns_load_more_as_they_scroll(client, alice, stages_a, settings):
    settings.BOARD_PAGE_SIZE = 3
    deals = [DealFactory(stage=stages_a[0], owner=alice, title=f"Deal #{i}") for i in range(7)]
    client.force_login(alice)
    pipeline = stages_a[0].pipeline
    html = client.get(board_url(pipeline)).content.decode()
    assert "Deal #2" in html and "Deal #3" not in html and "column-more" not in html
    assert reverse("column-more", args=[pipeline.pk, stages_a[0].pk]) in html
    url = reverse("column-more", args=[pipeline.pk, stages_a[0].pk])
    third = deals[2]
    more = client.get(url, {"after_position": third.position, "after_id": third.pk})
    text = more.content.decode()
    assert more.status_code == 200
    assert "Deal #3" in text and "Deal #5" in text and "Deal #6" not in text
    assert f"after_id={deals[5].pk}" in text.replace("&amp;", "&")


def test_load_more_with_bad_cursor_is_400(client, alice, stages_a):
    client.force_login(alice)
    url = reverse("column-more", args=[stages_a[0].pipeline.pk, stages_a[0].pk])
    assert client.get(url, {"after_position": "x", "after_id": 1}).status_code == 400


def test_load_more_of_another_teams_column_is_404(client, carol, stages_a):
    client.force_login(carol)
    url = reverse("column-more", args=[stages_a[0].pipeline.pk, stages_a[0].pk])
    assert client.get(url, {"after_position": 0, "after_id": 1}).status_code == 404


def test_stage_of_another_pipeline_in_load_more_is_404(client, admin, stages_a, stages_b):
    client.force_login(admin)
    url = reverse("column-more", args=[stages_a[0].pipeline.pk, stages_b[0].pk])
    assert client.get(url, {"after_position": 0, "after_id": 1}).status_code == 404


def _board_queries(client, pipeline):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(board_url(pipeline))
    assert response.status_code == 200
    return len(queries)


def test_a_filter_swap_runs_one_query_less_than_the_page(client, alice, stages_a):
    """The htmx answer to a filter change is #board alone: it does not draw the toolbar, so
    it does not read the team's people for the owner select."""
    pipeline = stages_a[0].pipeline
    DealFactory(stage=stages_a[0], owner=alice, title="Racking")
    client.force_login(alice)
    url = board_url(pipeline)
    client.get(url)
    with CaptureQueriesContext(connection) as page:
        assert client.get(url, {"q": "rack"}).status_code == 200
    with CaptureQueriesContext(connection) as swap:
        response = client.get(url, {"q": "rack"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board")
    assert response.status_code == 200 and "Racking" in response.text
    assert 'id="board-owner"' not in response.text
    assert len(swap) == len(page) - 1


def test_board_query_count_is_the_same_for_3_and_300_deals(client, alice, alex, stages_a):
    """Queries (the session comes from the shared cache): the user with their memberships
    (access), the pipeline with the switcher's pipelines (one query), team members (owner
    filter), stages, totals grouped by stage and currency, the first cards of every column
    with company and owner (one statement: a LATERAL join on PostgreSQL, a UNION ALL
    elsewhere). Six, under the ceiling of twelve. (The bell's unread count loads after the
    page.)"""
    pipeline = stages_a[0].pipeline
    client.force_login(alice)
    for i in range(3):
        DealFactory(stage=stages_a[i % 4], owner=alice)
    _board_queries(client, pipeline)  # exchange rates are read once per process, not per page
    few = _board_queries(client, pipeline)
    companies = [CompanyFactory(team=pipeline.team) for _ in range(5)]
    Deal.objects.bulk_create(
        Deal(
            title=f"Bulk {i}",
            pipeline=pipeline,
            stage=stages_a[i % 4],
            position=10_000 + i,
            owner=alice if i % 2 else alex,
            company=companies[i % 5],
        )
        for i in range(297)
    )
    many = _board_queries(client, pipeline)
    assert few == many == 6


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_text_on_board_and_deal_page(client, alice, team_a, stages_a, text):
    company = CompanyFactory(team=team_a, name=text)
    deal = DealFactory(stage=stages_a[0], owner=alice, title=text, company=company)
    client.force_login(alice)
    pages = [
        board_url(stages_a[0].pipeline),
        deal.get_absolute_url(),
        reverse("closed-deals", args=[deal.pipeline_id]),
    ]
    for url in pages:
        page = client.get(url).content.decode()
        if "<" in text:
            assert text not in page  # never raw markup
        if text in page:  # template syntax passes through as literal text, never evaluated
            assert "{{" in text
    for url in pages[:2]:
        assert text in htmllib.unescape(client.get(url).content.decode())


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_the_board_toolbar_and_links_stays_text(
    client, alice, team_a, pipeline_a, stages_a, text, settings
):
    """The toolbar and the column parts are Jinja (templates/jinja2/pipeline/board.jinja):
    pipeline, team, stage and teammate names and the search text are escaped there too, and
    the search text is URL-quoted in every link that carries the filters."""
    settings.BOARD_PAGE_SIZE = 1
    pipeline_a.name, team_a.name = text, text
    pipeline_a.save(update_fields=["name"])
    team_a.save(update_fields=["name"])
    stages_a[0].name = text
    stages_a[0].save(update_fields=["name"])
    MembershipFactory(user=UserFactory(username="mate", first_name=text), team=team_a)
    company = CompanyFactory(team=team_a, name=f"match {text}")
    for _ in range(2):
        DealFactory(stage=stages_a[0], owner=alice, title="x", company=company)
    client.force_login(alice)
    url = reverse("board", args=[pipeline_a.pk])
    more = reverse("column-more", args=[pipeline_a.pk, stages_a[0].pk])
    answers = [
        client.get(url, {"q": f"match {text}"}),
        client.get(url, {"q": f"match {text}"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board"),
        client.get(
            more, {"q": f"match {text}", "after_position": 0, "after_id": 1}, HTTP_HX_REQUEST="true"
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        page = response.content.decode()
        if "<" in text:
            assert text not in page
    page, fragment = answers[0].content.decode(), answers[1].content.decode()
    assert "{{ 7*7 }}" not in text or "49" not in page  # never evaluated
    for html in (page, fragment):
        # The search text rides on the export links and the column's "load more", quoted.
        assert html.count(f"&amp;q={quote('match ' + text, safe='/')}") >= 3
    assert f"{text} · {text}" in htmllib.unescape(page)  # the pipeline switcher's option
    assert text in htmllib.unescape(page.split('id="board-owner"')[1].split("</select>")[0])


def test_team_membership_of_salesperson_in_two_teams_shows_both_boards(
    client, alice, pipeline_b, stages_b
):
    MembershipFactory(user=alice, team=pipeline_b.team, role=Role.SALESPERSON)
    client.force_login(alice)
    assert client.get(board_url(pipeline_b)).status_code == 200


def test_other_team_member_list_is_not_leaked_into_owner_filter(client, alice, stages_a, carol):
    TeamFactory(name="Elsewhere")
    client.force_login(alice)
    html = client.get(board_url(stages_a[0].pipeline)).content.decode()
    assert "Carol" not in html


def test_filtered_totals_count_only_the_matching_deals(client, alice, alex, stages_a):
    DealFactory(stage=stages_a[0], owner=alice, value=100)
    DealFactory(stage=stages_a[0], owner=alex, value=900)
    client.force_login(alice)
    response = client.get(board_url(stages_a[0].pipeline, owner="me"))
    totals = response.context["columns"][0].totals
    assert totals.count == 1 and str(totals.value) == "100.00"
    response = client.get(board_url(stages_a[0].pipeline))
    totals = response.context["columns"][0].totals
    assert totals.count == 2 and str(totals.value) == "1000.00"


def test_own_deals_only_totals_leave_out_colleagues(client, alice, alex, team_a, stages_a):
    team_a.own_deals_only = True
    team_a.save()
    DealFactory(stage=stages_a[0], owner=alice, value=100)
    DealFactory(stage=stages_a[0], owner=alex, value=900)
    client.force_login(alice)
    totals = client.get(board_url(stages_a[0].pipeline)).context["columns"][0].totals
    assert totals.count == 1 and str(totals.value) == "100.00"


def test_card_links_point_at_the_deal_urls(client, alice, stages_a):
    """A card carries its deal's link; board.js sends the drop, won and lost to that link's
    move/, won/ and lost/, and a next step's done and edit under #board's data-activities."""
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    html = client.get(board_url(stages_a[0].pipeline)).content.decode()
    link = reverse("deal-detail", args=[deal.pk])
    assert f'<a class="card-title" href="{link}">' in html
    for name, suffix in (("deal-move", "move/"), ("deal-won", "won/"), ("deal-lost", "lost/")):
        assert reverse(name, args=[deal.pk]) == link + suffix
    activities = reverse("activity-update", args=[7]).removesuffix("7/edit/")
    assert f'data-activities="{activities}"' in html
    assert reverse("activity-complete", args=[7]) == f"{activities}7/complete/"


def test_the_selector_decides_what_each_card_says(alice, stages_a):
    """Stale and overdue are decided once per card by the selector, with the flag scan's own
    definitions; the card template only renders `deal.state`."""
    from datetime import timedelta

    from django.utils import timezone

    from pipeline.models import Activity
    from pipeline.selectors import BoardFilters, board_columns

    now = timezone.now()
    today = timezone.localdate(now)
    stale = DealFactory(
        stage=stages_a[0],
        owner=alice,
        title="stale",
        rots_at=now - timedelta(days=1),
        last_movement_at=now - timedelta(days=23),
        expected_close_date=today - timedelta(days=3),
    )
    fresh = DealFactory(
        stage=stages_a[0], owner=alice, title="fresh", rots_at=now + timedelta(days=5)
    )
    for deal, due in ((stale, today - timedelta(days=2)), (fresh, today)):
        step = Activity.objects.create(deal=deal, subject="Call", due_date=due, assignee=alice)
        Deal.objects.filter(pk=deal.pk).update(next_step=step, next_step_due=due)
    columns = board_columns(pipeline=stages_a[0].pipeline, user=alice, filters=BoardFilters())
    states = {d.title: d.state for d in columns[0].cards}
    assert states["stale"].stale and states["stale"].idle_days == 23
    assert states["stale"].rot_days == stages_a[0].rot_days
    assert states["stale"].step == "overdue" and states["stale"].close_past
    assert not states["fresh"].stale and states["fresh"].step == "today"
    assert not states["fresh"].close_past


def test_card_twins_agree_with_the_flag_definitions(stages_a):
    """`Deal.next_step_is_overdue` and `Deal.is_stale_at` (the board's cards) give the same
    answer as `flag_conditions` (the flag scan) on every deal: open, paused and won, on both
    sides of each edge."""
    from datetime import timedelta

    from django.utils import timezone

    from pipeline.models import DealStatus, FlagKind
    from pipeline.services.flags import flag_conditions

    now = timezone.now()
    today = timezone.localdate(now)
    for status in (DealStatus.OPEN, DealStatus.PAUSED, DealStatus.WON):
        for name, due, rots_in in [
            ("fine", today + timedelta(days=2), timedelta(days=3)),
            ("due today", today, timedelta(seconds=1)),
            ("overdue", today - timedelta(days=1), timedelta(seconds=-1)),
            ("no step", None, None),
        ]:
            deal = DealFactory(stage=stages_a[0], title=f"{name} {status}")
            Deal.objects.filter(pk=deal.pk).update(
                status=status, next_step_due=due, rots_at=now + rots_in if rots_in else None
            )
    conditions = flag_conditions(now=now)
    deals = list(Deal.objects.all())
    overdue = set(Deal.objects.filter(conditions[FlagKind.OVERDUE_NEXT_STEP]))
    stale = set(Deal.objects.filter(conditions[FlagKind.STALE]))
    assert {d for d in deals if d.next_step_is_overdue(today)} == overdue
    assert {d for d in deals if d.is_stale_at(now)} == stale
    assert {d.title for d in overdue} == {d.title for d in stale} == {"overdue open"}
