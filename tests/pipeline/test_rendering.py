"""The board's rendered cards and column headers are kept by their content
(pipeline/rendering.py): whatever changes what a card or header shows renders it again, in
every process, without anything being cleared."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from crm.models import Company
from pipeline import rendering
from pipeline.models import Activity, Deal
from pipeline.models.flags import Flag, FlagKind
from pipeline.selectors.board import BoardFilters, StageTotals, column_cards
from tests.factories import CompanyFactory, DealFactory

JINJA = Path(settings.BASE_DIR) / "templates" / "jinja2" / "pipeline"


def read(name: str) -> str:
    return (JINJA / name).read_text()


def read_source(name: str) -> str:
    """The template without its comments."""
    return re.sub(r"\{#.*?#\}", "", read(name), flags=re.S)


def test_the_card_key_holds_every_value_the_card_template_reads():
    source = read("cards.jinja")
    read_from_deal = set(re.findall(r"\bdeal\.(\w+)", source))
    assert read_from_deal, "the template's reads were not found: is the loop still `deal`?"
    assert read_from_deal <= set(rendering.CARD_KEY_FIELDS)
    # The state is one frozen value: all of it is in the key.
    assert "state" in rendering.CARD_KEY_FIELDS
    assert re.findall(r"\bstate\.(\w+)", source)


def test_the_header_key_holds_every_value_the_header_template_reads():
    source = read("column_headers.jinja")
    assert set(re.findall(r"\bstage\.(\w+)", source)) <= {"pk", "name", "probability"}
    read_from_totals = set(re.findall(r"\btotals\.(\w+)", source))
    assert read_from_totals and read_from_totals <= {f.name for f in fields(StageTotals)}


def test_the_toolbar_key_holds_every_value_the_toolbar_templates_read():
    from jinja2 import meta

    env = engines["jinja2"].env
    names = ("board_toolbar.jinja", "board_port_menu.jinja")
    read = set()
    for name in names:
        read |= meta.find_undeclared_variables(env.parse(read_source(name)))
    assert "pipelines" in read and "owner_choices" in read
    assert read - {"url", "_", "pgettext"} <= rendering.TOOLBAR_READS
    source = "".join(read_source(name) for name in names)
    assert set(re.findall(r"\bpipeline\.(\w+)", source)) == {"pk"}  # the key has its pk
    assert set(re.findall(r"\bp\.(\w+)", source)) == {"pk", "name", "team"}
    assert set(re.findall(r"\bp\.team\.(\w+)", source)) == {"name"}


@pytest.mark.parametrize(
    "name",
    ["cards.jinja", "column_headers.jinja", "board_toolbar.jinja", "board_port_menu.jinja"],
)
def test_kept_markup_reads_nothing_of_the_request(name):
    """A kept card or header is served to every user and request: its template must not read
    the request, the user or the CSRF token, which are not in the key."""
    code = re.sub(r"\{#.*?#\}", "", read(name), flags=re.S)
    assert not re.search(r"\b(request|user|csrf_token|csrf_input|perms|messages)\b", code)


def test_the_memo_forgets_the_least_recently_used_first():
    memo = rendering.RenderedMemo(2)
    memo.put_many([("a", "<a>"), ("b", "<b>")])
    assert memo.get_many(["a"]) == ["<a>"]  # "b" is now the least recently used
    memo.put_many([("c", "<c>")])
    assert memo.get_many(["a", "b", "c"]) == ["<a>", None, "<c>"]


@pytest.fixture
def cards_of(alice, stages_a):
    def read_cards():
        cards, _ = column_cards(stage=stages_a[0], user=alice, filters=BoardFilters())
        return cards

    return read_cards


@pytest.fixture
def rendered(alice, monkeypatch):
    """cards_html for alice's request, counting the cards Jinja had to render."""
    request = RequestFactory().get("/")
    request.user = alice
    counted = {"rendered": 0}
    real = rendering.get_template

    def counting_get_template(name, using=None):
        template = real(name, using=using)
        original = template.render

        def render(context=None, request=None):
            counted["rendered"] += len(context["cards"])
            return original(context, request=request)

        template.render = render
        return template

    monkeypatch.setattr(rendering, "get_template", counting_get_template)

    def render(cards, language="en-gb") -> tuple[str, int]:
        counted["rendered"] = 0
        with translation.override(language):
            return str(rendering.cards_html(request, cards)), counted["rendered"]

    return render


def test_an_unchanged_card_is_not_rendered_again_and_reads_the_same(
    alice, stages_a, cards_of, rendered
):
    DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet")
    DealFactory(stage=stages_a[0], owner=alice, title="Racking")
    rendering.CARD_MEMO.clear()
    first, first_count = rendered(cards_of())
    again, again_count = rendered(cards_of())
    assert (first_count, again_count) == (2, 0)
    assert again == first
    assert first.count("<article") == 2 and "Forklift fleet" in first and "Racking" in first


def test_a_change_the_deal_version_does_not_see_still_renders_the_card_again(
    alice, stages_a, cards_of, rendered
):
    """Writes that leave the deal's version alone (a company renamed or tiered, a flag
    raised, a raw UPDATE) show at once: the key is the content, not the version."""
    company = CompanyFactory(team=stages_a[0].pipeline.team, name="Nordlager", tier="B")
    deal = DealFactory(stage=stages_a[0], owner=alice, company=company, title="Racking")
    other = DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet")
    before, _ = rendered(cards_of())
    assert "Nordlager" in before and "tier-B" in before

    Company.objects.filter(pk=company.pk).update(name="Nordlager A/S", tier="A")
    Deal.objects.filter(pk=deal.pk).update(title="Racking, phase 2")
    after, count = rendered(cards_of())
    assert count == 1  # only the changed card; the other one is kept
    assert "Nordlager A/S" in after and "tier-A" in after and "Racking, phase 2" in after
    assert "Forklift fleet" in after and str(other.pk) in after

    Flag.objects.create(deal=other, kind=FlagKind.NO_NEXT_STEP)
    flagged, count = rendered(cards_of())
    assert count == 1
    assert "flagged since" in flagged


def test_a_card_is_rendered_again_for_another_language_and_time_zone(
    alice, stages_a, cards_of, rendered
):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Racking", next_step=None)
    # Raised at 23:30 UTC: the 4th in London, already the 5th in Stockholm.
    raised = datetime(2026, 11, 4, 23, 30, tzinfo=UTC)
    Flag.objects.create(deal=deal, kind=FlagKind.NO_NEXT_STEP, raised_at=raised)
    english, _ = rendered(cards_of())
    danish, count = rendered(cards_of(), language="da")
    assert count == 1
    with translation.override("da"):
        assert translation.gettext("No next step") in danish
    assert "No next step" in english and "No next step" not in danish
    with timezone.override("Europe/London"):
        london, _ = rendered(cards_of())
    with timezone.override("Europe/Stockholm"):
        stockholm, count = rendered(cards_of())
    assert count == 1
    assert "4 Nov" in london and "5 Nov" in stockholm


def test_the_card_says_overdue_once_its_step_is_due_before_today(
    alice, stages_a, cards_of, rendered, monkeypatch
):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Racking")
    today = timezone.localdate()
    step = Activity.objects.create(deal=deal, subject="Call", due_date=today, assignee=alice)
    Deal.objects.filter(pk=deal.pk).update(next_step=step, next_step_due=today)
    due_today, _ = rendered(cards_of())
    assert "is-today" in due_today and "is-overdue" not in due_today
    # The next day the same row is another card: the state (overdue) is part of the key.
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    overdue, count = rendered(cards_of())
    assert count == 1 and "is-overdue" in overdue


def test_the_board_headers_follow_the_figures(client, alice, stages_a):
    """The headers are kept by their figures: a new deal changes the count and the totals
    on the next page, a renamed stage its name."""
    url = reverse("board", args=[stages_a[0].pipeline.pk])
    client.force_login(alice)
    DealFactory(stage=stages_a[0], owner=alice, value=1000, currency="EUR")
    first = client.get(url).content.decode()
    assert re.search(rf'id="stage-{stages_a[0].pk}-header".*?column-count[^>]*>1<', first, re.S)
    DealFactory(stage=stages_a[0], owner=alice, value=1000, currency="EUR")
    type(stages_a[1]).objects.filter(pk=stages_a[1].pk).update(name="Qualified by buyer")
    second = client.get(url).content.decode()
    assert re.search(rf'id="stage-{stages_a[0].pk}-header".*?column-count[^>]*>2<', second, re.S)
    assert "Qualified by buyer" in second


def test_the_board_toolbar_follows_names_people_filters_and_the_count(client, alice, bob, stages_a):
    """The toolbar is kept by what it shows: a renamed pipeline or team, a renamed teammate,
    another filter or another count of deals needing attention shows on the next page."""
    from accounts.models import Team, User
    from pipeline.models import Pipeline

    pipeline = stages_a[0].pipeline
    url = reverse("board", args=[pipeline.pk])
    client.force_login(alice)
    first = client.get(url).content.decode()
    assert "Bob Berg" in first and f"{pipeline.name} · Team A" in first
    assert re.search(r'id="attention-count">0<', first)

    Pipeline.objects.filter(pk=pipeline.pk).update(name="Nordics")
    Team.objects.filter(pk=pipeline.team_id).update(name="Sales North")
    User.objects.filter(pk=bob.pk).update(first_name="Robert")
    company = CompanyFactory(team=pipeline.team, tier="B")
    deal = DealFactory(stage=stages_a[0], owner=alice, company=company)
    Flag.objects.create(deal=deal, kind=FlagKind.NO_NEXT_STEP)
    second = client.get(url).content.decode()
    assert "Nordics · Sales North" in second and "Robert Berg" in second
    assert "Bob Berg" not in second

    # Filtered, the count is of the deals in view, the flagged one among them.
    filtered = client.get(url, {"owner": "me"}).content.decode()
    assert re.search(r'<option value="me" selected>', filtered)
    assert re.search(r'id="attention-count">1<', filtered)
    assert "status=open&amp;owner=me" in filtered  # the export links carry the filters
    tiered = client.get(url, {"owner": "me", "tier": "A"}).content.decode()
    assert re.search(r'value="A" checked', tiered) and "owner=me&amp;tier=A" in tiered
    assert re.search(r'id="attention-count">0<', tiered)  # the deal's company is a B
    plain = client.get(url).content.decode()
    assert not re.search(r'<option value="me" selected>', plain)
