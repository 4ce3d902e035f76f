"""ABC tiers (issue 5): the recompute against an independent computation, idempotency, locks,
concurrency; thresholds on the settings page (roles, bad input, enqueue after commit, broker
outage); a tier set by hand; badges and tier filters on the board, company list and review.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin.
"""

from __future__ import annotations

import random
import re
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import Company, Organisation, TierChange
from crm.organisation import organisation_get, reporting_currency
from crm.services import tiers as tier_services
from crm.services.tiers import tier_thresholds_update, tiers_recompute
from pipeline.models import Deal, DealStatus, ExchangeRate
from pipeline.services import POSITION_GAP, stage_totals_rebuild
from tests.conftest import requires_postgres
from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
CURRENCIES = ["EUR", "DKK", "SEK", "USD", "GBP"]
# Rates the test puts in the database from yesterday (reporting-currency units per unit);
# other currencies keep the migration's rows or the fixed rates in settings. A DKK rate that
# starts tomorrow is not in force yet.
DB_RATES = {"DKK": Decimal("0.13500000"), "SEK": Decimal("0.09000000")}


def set_thresholds(a: int | str, b: int | str) -> None:
    Organisation.objects.filter(pk=1).update(tier_a_threshold=a, tier_b_threshold=b)
    from crm.organisation import organisation_changed

    organisation_changed()


def snapshot_companies() -> dict[int, tuple]:
    return {
        c.pk: (c.tier, c.tier_locked, c.expected_value, c.tier_computed_at)
        for c in Company.objects.all()
    }


# --- an independent computation ---------------------------------------------------------------


def reference_rate(currency: str, today: date) -> Decimal:
    """The newest rate row in force today, else the fixed rate from settings."""
    if currency == reporting_currency():
        return Decimal(1)
    rows = [r for r in ExchangeRate.objects.all() if r.currency == currency]
    in_force = [r for r in rows if r.valid_from <= today]
    if in_force:
        return max(in_force, key=lambda r: r.valid_from).rate
    return settings.EXCHANGE_RATES[currency] / settings.EXCHANGE_RATES[reporting_currency()]


def expected_by_definition(now: datetime) -> dict[int, Decimal]:
    """docs/product.md in plain Python, deal by deal: won in the 12 months before today (local)
    at full value + open deals at value x probability; paused and lost left out."""
    today = now.astimezone(COPENHAGEN).date()
    year_ago = today.replace(year=today.year - 1)
    exact = {pk: Decimal(0) for pk in Company.objects.values_list("pk", flat=True)}
    for deal in Deal.objects.select_related("stage").exclude(company=None):
        value = deal.value * reference_rate(deal.currency, today)
        if deal.status == DealStatus.OPEN:
            exact[deal.company_id] += value * deal.stage.probability / 100
        elif deal.status == DealStatus.WON:
            if deal.closed_at.astimezone(COPENHAGEN).date() >= year_ago:
                exact[deal.company_id] += value
    return {pk: v.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for pk, v in exact.items()}


def tier_by_definition(value: Decimal, a: Decimal, b: Decimal) -> str:
    return "A" if value >= a else "B" if value >= b else "C"


def random_dataset(stages, team, owner, *, companies: int = 40, deals: int = 400, seed: int = 5):
    """Companies with random deals in several currencies and every status; won deals closed
    between two years ago and now, never on the 12-month boundary day itself."""
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate(now)
    if not ExchangeRate.objects.filter(valid_from=today - timedelta(days=1)).exists():
        for currency, rate in DB_RATES.items():
            ExchangeRate.objects.create(
                currency=currency, rate=rate, valid_from=today - timedelta(days=1)
            )
        ExchangeRate.objects.create(
            currency="DKK", rate="9.99", valid_from=today + timedelta(days=1)
        )
    firms = CompanyFactory.create_batch(companies, team=team)
    statuses = [DealStatus.OPEN] * 4 + [DealStatus.WON] * 3 + [DealStatus.LOST, DealStatus.PAUSED]
    rows = []
    for i in range(deals):
        stage = rng.choice(stages)
        status = rng.choice(statuses)
        closed_at = None
        if status in (DealStatus.WON, DealStatus.LOST):
            days = rng.choice([d for d in range(0, 730) if abs(d - 365) > 2])
            closed_at = now - timedelta(days=days, hours=rng.randint(0, 20))
        rows.append(
            Deal(
                title=f"Random {i}",
                pipeline=stage.pipeline,
                stage=stage,
                owner=owner,
                company=rng.choice(firms) if rng.random() > 0.05 else None,
                position=(i + 1) * POSITION_GAP,
                status=status,
                value=Decimal(rng.randint(0, 20_000_000)) / 100,
                currency=rng.choice(CURRENCIES),
                closed_at=closed_at,
                paused_until=today + timedelta(days=10) if status == DealStatus.PAUSED else None,
            )
        )
    Deal.objects.bulk_create(rows)
    stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    return now


# --- the recompute ------------------------------------------------------------------------------


def test_recompute_equals_an_independent_computation(stages_a, team_a, alice):
    now = random_dataset(stages_a, team_a, alice)
    values = expected_by_definition(now)
    a, b = sorted(values.values())[-8], sorted(values.values())[-20]  # a believable spread
    set_thresholds(a, b)
    locked = Company.objects.order_by("pk")[3]
    Company.objects.filter(pk=locked.pk).update(tier="B", tier_locked=True)

    result = tiers_recompute(now=now)

    stored = {c.pk: c for c in Company.objects.all()}
    assert {pk: c.expected_value for pk, c in stored.items()} == values
    for pk, company in stored.items():
        want = "B" if pk == locked.pk else tier_by_definition(values[pk], a, b)
        assert company.tier == want, (pk, values[pk])
        assert company.tier_computed_at == now
    tiers = {t: sum(1 for c in stored.values() if c.tier == t) for t in "ABC"}
    assert result.tiers == tiers and all(tiers.values())
    assert result.companies == 40
    # Every tier that moved is recorded once, from C (the default) to its new tier.
    changes = {c.company_id: (c.from_tier, c.to_tier) for c in TierChange.objects.all()}
    moved = {pk: ("C", c.tier) for pk, c in stored.items() if c.tier != "C" and pk != locked.pk}
    assert changes == moved
    assert TierChange.objects.count() == result.tier_changes == len(moved)
    assert organisation_get().tiers_recomputed_at == now


def test_a_second_run_changes_and_records_nothing(stages_a, team_a, alice):
    now = random_dataset(stages_a, team_a, alice, companies=15, deals=120)
    set_thresholds(50_000, 10_000)
    first = tiers_recompute(now=now)
    before = snapshot_companies()
    changes = TierChange.objects.count()
    assert first.updated == 15

    # Later the same day: tomorrow has rates of its own (DKK 9.99 from tomorrow), so "an hour
    # later" made this test fail when run in the last hour before midnight.
    midnight = datetime.combine(
        timezone.localdate(now) + timedelta(days=1),
        datetime.min.time(),
        tzinfo=timezone.get_current_timezone(),
    )
    second = tiers_recompute(now=now + (midnight - now) / 2)

    assert (second.updated, second.tier_changes) == (0, 0)
    assert snapshot_companies() == before
    assert TierChange.objects.count() == changes


def test_a_tier_set_by_hand_is_kept_and_its_expected_value_still_stored(stages_a, team_a, bob):
    company = CompanyFactory(team=team_a, tier="C", tier_locked=True)
    DealFactory(stage=stages_a[3], company=company, value=Decimal("200000"), currency="EUR")
    set_thresholds(100_000, 25_000)

    tiers_recompute()

    company.refresh_from_db()
    assert (company.tier, company.tier_locked) == ("C", True)
    assert company.expected_value == Decimal("150000.00")  # 200,000 x 75 %
    assert not TierChange.objects.exists()

    # Handed back to the recompute: the next run decides, and records it.
    services.company_update(
        acting_user=bob,
        company=company,
        name=company.name,
        domain=company.domain,
        team=team_a,
        owner=company.owner,
        tier=None,
    )
    company.refresh_from_db()
    assert (company.tier, company.tier_locked) == ("C", False)
    tiers_recompute()
    company.refresh_from_db()
    assert company.tier == "A"
    change = TierChange.objects.get(source=TierChange.Source.RECOMPUTE)
    assert (change.from_tier, change.to_tier, change.expected_value) == ("C", "A", Decimal(150000))


def test_paused_lost_and_old_wins_do_not_count(stages_a, team_a):
    company = CompanyFactory(team=team_a)
    now = timezone.now()
    DealFactory(stage=stages_a[0], company=company, value=1000, status=DealStatus.PAUSED)
    DealFactory(stage=stages_a[0], company=company, value=1000, status=DealStatus.LOST)
    DealFactory(
        stage=stages_a[0],
        company=company,
        value=1000,
        status=DealStatus.WON,
        closed_at=now - timedelta(days=400),
    )
    DealFactory(
        stage=stages_a[0],
        company=company,
        value=Decimal("300.50"),
        currency="GBP",
        status=DealStatus.WON,
        closed_at=now - timedelta(days=300),
    )
    DealFactory(stage=stages_a[1], company=company, value=1000)  # 25 %
    tiers_recompute(now=now)
    company.refresh_from_db()
    gbp = Decimal("300.50") * settings.EXCHANGE_RATES["GBP"]
    assert company.expected_value == (gbp + 250).quantize(Decimal("0.01"))


def test_recompute_of_some_companies_leaves_the_others_and_the_run_time(team_a, stages_a):
    one, other = CompanyFactory(team=team_a), CompanyFactory(team=team_a)
    for company in (one, other):
        DealFactory(stage=stages_a[3], company=company, value=Decimal("200000"))
    result = tiers_recompute(company_ids=[one.pk])
    assert result.companies == 1
    assert Company.objects.get(pk=one.pk).tier == "A"
    assert Company.objects.get(pk=other.pk).tier == "C"
    assert organisation_get().tiers_recomputed_at is None


def test_recompute_queries_do_not_grow_with_companies_or_deals(team_a, stages_a, alice):
    def queries() -> int:
        Company.objects.update(expected_value=None)
        with CaptureQueriesContext(connection) as captured:
            tiers_recompute()
        return len(captured)

    set_thresholds(0, 0)  # every company moves to A: both runs update and record
    random_dataset(stages_a, team_a, alice, companies=3, deals=10, seed=1)
    few = queries()
    random_dataset(stages_a, team_a, alice, companies=60, deals=600, seed=2)
    many = queries()
    assert few == many


def test_recompute_works_through_several_batches(team_a, stages_a, alice, monkeypatch):
    monkeypatch.setattr(tier_services, "BATCH_SIZE", 7)
    now = random_dataset(stages_a, team_a, alice, companies=30, deals=200)
    set_thresholds(60_000, 15_000)
    result = tiers_recompute(now=now)
    values = expected_by_definition(now)
    assert result.companies == 30
    assert dict(Company.objects.values_list("pk", "expected_value")) == values


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_recomputes_at_once_record_each_change_once(team_a, stages_a, alice, monkeypatch):
    monkeypatch.setattr(tier_services, "BATCH_SIZE", 5)
    now = random_dataset(stages_a, team_a, alice, companies=40, deals=300)
    set_thresholds(60_000, 15_000)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = tiers_recompute(now=now)
        except Exception as error:  # noqa: BLE001 - inspected below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(isinstance(r, Exception) for r in results), results
    changed = Company.objects.exclude(tier="C").count()
    assert changed > 0
    assert TierChange.objects.count() == changed == sum(r.tier_changes for r in results)
    assert TierChange.objects.values("company_id").distinct().count() == changed


def test_task_management_command_and_beat_entry(team_a, stages_a):
    from crm.tasks import tiers_recompute as task

    company = CompanyFactory(team=team_a)
    DealFactory(stage=stages_a[3], company=company, value=Decimal("200000"))
    assert task.name == "crm.tiers_recompute"
    assert task.run() == {"companies": 1, "updated": 1, "tier_changes": 1}
    out = StringIO()
    call_command("tiers_recompute", stdout=out)
    assert "1 companies (A: 1, B: 0, C: 0); 0 updated, 0 tier changes recorded." in out.getvalue()
    beat = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == task.name]
    assert len(beat) == 1


# --- thresholds: the service and the settings page -----------------------------------------


def test_threshold_change_enqueues_the_recompute_after_commit(
    admin, django_capture_on_commit_callbacks
):
    with mock.patch("crm.tasks.tiers_recompute.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            changed = tier_thresholds_update(
                acting_user=admin, a_threshold=Decimal(80000), b_threshold=Decimal(20000)
            )
            apply_async.assert_not_called()  # nothing published inside the transaction
        assert changed and len(callbacks) == 2
        apply_async.assert_called_once()
        apply_async.reset_mock()
        # The same values again: nothing changes, nothing is queued.
        with django_capture_on_commit_callbacks(execute=True):
            assert not tier_thresholds_update(
                acting_user=admin, a_threshold=Decimal(80000), b_threshold=Decimal(20000)
            )
        apply_async.assert_not_called()
    organisation = Organisation.objects.get()
    assert (organisation.tier_a_threshold, organisation.tier_b_threshold) == (80000, 20000)


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "alex"])
def test_only_admins_reach_the_tier_settings(client, request, who, stages_a):
    before = Organisation.objects.values().get()
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("settings-tiers")).status_code == 403
    data = {"a_threshold": "1", "b_threshold": "0"}
    assert client.post(reverse("settings-tiers"), data).status_code == 403
    assert client.post(reverse("settings-tiers-recompute")).status_code == 403
    assert client.post(reverse("settings-tiers"), data, **HTMX).status_code == 403
    assert Organisation.objects.values().get() == before


def spread(html: str) -> list[int]:
    """The preview's A, B and C counts as shown."""
    panel = html.split('id="tier-preview"')[1].split("</section>")[0]
    return [int(n) for n in re.findall(r"<strong>(\d+)</strong>", panel)]


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("settings-tiers"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_admin_sees_basis_preview_last_run_and_changes(client, admin, team_a, stages_a):
    company = CompanyFactory(team=team_a, name="Big Buyer")
    DealFactory(stage=stages_a[3], company=company, value=Decimal("200000"))
    CompanyFactory(team=team_a, tier="B", tier_locked=True)
    tiers_recompute()
    client.force_login(admin)
    response = client.get(reverse("settings-tiers"))
    assert response.status_code == 200
    html = response.text
    assert "stage&#x27;s win probability" in html or "stage's win probability" in html
    assert "paused and lost deals do not count" in html
    assert "Last recomputed" in html
    assert "Big Buyer" in html  # latest changes
    assert spread(html) == [1, 1, 0]
    assert "1 company has a tier set by hand" in html
    # A preview at other thresholds (htmx: the preview panel only).
    response = client.get(
        reverse("settings-tiers"), {"a_threshold": "500000", "b_threshold": "100000"}, **HTMX
    )
    assert response.status_code == 200
    assert spread(response.text) == [0, 2, 0]
    assert 'id="tier-preview"' in response.text and "<html" not in response.text


def test_admin_saves_thresholds_and_the_recompute_is_queued(
    client, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with mock.patch("crm.tasks.tiers_recompute.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("settings-tiers"), {"a_threshold": "150000", "b_threshold": "40000.50"}
            )
    assert response.status_code == 302
    apply_async.assert_called_once()
    organisation = Organisation.objects.get()
    assert organisation.tier_a_threshold == Decimal("150000")
    assert organisation.tier_b_threshold == Decimal("40000.50")
    assert "Thresholds saved" in client.get(reverse("settings-tiers")).text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a_threshold": "1000", "b_threshold": "2000"}, "at least the B threshold"),
        ({"a_threshold": "-5", "b_threshold": "0"}, "greater than or equal to 0"),
        ({"a_threshold": "abc", "b_threshold": "0"}, "Enter a number"),
        ({"a_threshold": "1e400", "b_threshold": "0"}, ""),
        ({"a_threshold": "10.123", "b_threshold": "0"}, "2 decimal places"),
        ({"a_threshold": "9" * 40, "b_threshold": "0"}, ""),
        ({"a_threshold": "100"}, "This field is required"),
    ],
)
def test_bad_thresholds_get_400_and_change_nothing(
    client, admin, data, message, django_capture_on_commit_callbacks
):
    before = Organisation.objects.values().get()
    client.force_login(admin)
    with mock.patch("crm.tasks.tiers_recompute.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("settings-tiers"), data)
            preview = client.get(reverse("settings-tiers"), data)
    assert response.status_code == 400
    assert preview.status_code == 400
    assert message in response.text
    apply_async.assert_not_called()
    assert Organisation.objects.values().get() == before


@contextmanager
def broker_down_here():
    """tests/test_celery.py's `broker_down`, then kombu's process-wide pools for the closed
    port are forgotten: it closes them on exit, and the next test using the same address
    would otherwise be handed a closed pool."""
    from kombu import pools

    from tests.test_celery import CLOSED_PORT_BROKER, broker_down

    try:
        with broker_down():
            yield
    finally:
        port = int(CLOSED_PORT_BROKER.rsplit(":", 1)[1].split("/")[0])
        for group in (pools.connections, pools.producers):
            for key, pool in list(group.items()):
                owner = getattr(pool, "connections", pool)
                if getattr(getattr(owner, "connection", None), "port", None) == port:
                    dict.__delitem__(group, key)


def test_broker_outage_never_breaks_the_settings_page(
    client, admin, django_capture_on_commit_callbacks
):
    from tests.test_celery import timed

    client.force_login(admin)
    with broker_down_here(), django_capture_on_commit_callbacks(execute=True):
        with timed(5, "saving thresholds with the broker down"):
            response = client.post(
                reverse("settings-tiers"), {"a_threshold": "90000", "b_threshold": "30000"}
            )
        assert response.status_code == 302
        with timed(5, "Recompute now with the broker down"):
            response = client.post(reverse("settings-tiers-recompute"), follow=True)
    assert response.status_code == 200
    assert "cannot be reached" in response.text
    assert Organisation.objects.get().tier_a_threshold == 90000


def test_recompute_now_queues_a_run(client, admin):
    client.force_login(admin)
    with mock.patch("crm.tasks.tiers_recompute.apply_async") as apply_async:
        response = client.post(reverse("settings-tiers-recompute"), follow=True)
    apply_async.assert_called_once()
    assert "Recompute queued" in response.text
    assert client.get(reverse("settings-tiers-recompute")).status_code == 405


# --- a tier set by hand ---------------------------------------------------------------------


@pytest.fixture
def alice_company(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Alice Industries", domain="alice.dk")


def edit_post(company: Company, **overrides) -> dict:
    data = {"name": company.name, "domain": company.domain}
    data.update(overrides)
    return data


def test_manager_sets_a_tier_by_hand_and_it_is_recorded(client, bob, alice_company):
    client.force_login(bob)
    url = reverse("company-update", args=[alice_company.pk])
    assert 'name="tier"' in client.get(url).text
    response = client.post(url, edit_post(alice_company, owner=alice_company.owner_id, tier="A"))
    assert response.status_code == 302
    alice_company.refresh_from_db()
    assert (alice_company.tier, alice_company.tier_locked) == ("A", True)
    change = TierChange.objects.get()
    assert (change.from_tier, change.to_tier, change.source, change.changed_by) == (
        "C",
        "A",
        "manual",
        bob,
    )
    # The company page shows it: tier, lock, history.
    html = client.get(alice_company.get_absolute_url()).text
    assert "set by hand, kept by the nightly recompute" in html
    assert "set by hand by Bob Berg" in html
    # The form shows the hand-set tier; the same values again change nothing.
    response = client.post(url, edit_post(alice_company, owner=alice_company.owner_id, tier="A"))
    assert TierChange.objects.count() == 1
    # Back to automatic: unlocked, tier kept until the next recompute.
    client.post(url, edit_post(alice_company, owner=alice_company.owner_id, tier=""))
    alice_company.refresh_from_db()
    assert (alice_company.tier, alice_company.tier_locked) == ("A", False)
    tiers_recompute()
    alice_company.refresh_from_db()
    assert alice_company.tier == "C"
    assert TierChange.objects.count() == 2


def test_admin_creates_a_company_with_a_tier_set_by_hand(client, admin, team_a):
    client.force_login(admin)
    response = client.post(
        reverse("company-create"), {"name": "Key Account", "team": team_a.pk, "tier": "B"}
    )
    assert response.status_code == 302
    company = Company.objects.get()
    assert (company.tier, company.tier_locked) == ("B", True)
    assert TierChange.objects.get().source == "manual"


def test_salesperson_cannot_set_a_tier(client, alice, alice_company):
    before = Company.objects.filter(pk=alice_company.pk).values().get()
    client.force_login(alice)
    url = reverse("company-update", args=[alice_company.pk])
    assert 'name="tier"' not in client.get(url).text
    client.post(url, edit_post(alice_company, tier="A"))
    assert Company.objects.filter(pk=alice_company.pk).values().get()["tier"] == before["tier"]
    assert not TierChange.objects.exists()
    with pytest.raises(services.CrmRuleError):
        services.company_update(
            acting_user=alice,
            company=alice_company,
            name="x",
            domain="",
            team=alice_company.team,
            owner=alice,
            tier="A",
        )
    assert Company.objects.filter(pk=alice_company.pk).values().get() == before


def test_outsider_gets_404_and_bad_tier_gets_400(client, carol, bob, alice_company):
    before = Company.objects.filter(pk=alice_company.pk).values().get()
    url = reverse("company-update", args=[alice_company.pk])
    client.force_login(carol)
    assert client.post(url, edit_post(alice_company, tier="A")).status_code == 404
    client.force_login(bob)
    response = client.post(url, edit_post(alice_company, owner=alice_company.owner_id, tier="Z"))
    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    assert Company.objects.filter(pk=alice_company.pk).values().get() == before
    assert not TierChange.objects.exists()


def test_company_page_shows_expected_value_after_a_recompute(
    client, alice, alice_company, stages_a
):
    client.force_login(alice)
    assert "Not computed yet" in client.get(alice_company.get_absolute_url()).text
    DealFactory(stage=stages_a[1], company=alice_company, value=Decimal("40000"))
    tiers_recompute()
    html = client.get(alice_company.get_absolute_url()).text
    assert "€10,000" in html  # 40,000 x 25 %
    assert "automatic" in html


# --- badges and filters ---------------------------------------------------------------------


@pytest.fixture
def tiered(team_a, stages_a, alice):
    """One deal per tier on team A's board, each with its own company."""
    deals = {}
    for tier in "ABC":
        company = CompanyFactory(team=team_a, name=f"Firm {tier}", tier=tier)
        deals[tier] = DealFactory(
            stage=stages_a[0], company=company, owner=alice, title=f"Deal {tier}", value=1000
        )
    return deals


def test_board_cards_carry_the_tier_badge(client, alice, tiered, pipeline_a):
    client.force_login(alice)
    html = client.get(reverse("board", args=[pipeline_a.pk])).text
    for tier in "ABC":
        assert f'<span class="tier tier-{tier}">{tier}</span>' in html
    # The badge's title ("Tier A") is put on by board.js, from the JavaScript catalogue.
    assert 'src="/static/js/board.js"' in html and 'id="js-catalogue"' in html


def test_board_filters_by_tiers_and_totals_follow(client, alice, tiered, pipeline_a, stages_a):
    client.force_login(alice)
    url = reverse("board", args=[pipeline_a.pk])
    response = client.get(url, {"tier": ["A", "B"]})
    assert response.status_code == 200
    html = response.text
    assert "Deal A" in html and "Deal B" in html and "Deal C" not in html
    first = response.context["columns"][0]
    assert first.totals.count == 2 and first.totals.value == Decimal("2000.00")
    assert response.context["filters"].as_query() == [("tier", "A"), ("tier", "B")]
    assert "?status=open&amp;tier=A&amp;tier=B" in html  # the export links keep the filter
    assert 'value="A" checked' in html and 'value="C" checked' not in html
    # htmx: the board fragment, same filter.
    response = client.get(url, {"tier": "C"}, HTTP_HX_TARGET="board", **HTMX)
    assert "Deal C" in response.text and "Deal A" not in response.text


@pytest.mark.parametrize("bad", ["D", "a", "<script>", "A,B", ""])
def test_board_refuses_a_bad_tier(client, alice, tiered, pipeline_a, bad):
    client.force_login(alice)
    response = client.get(reverse("board", args=[pipeline_a.pk]), {"tier": bad})
    if bad == "":
        assert response.status_code == 200  # an empty value is "any tier"
    else:
        assert response.status_code == 400
        assert "Filter by tier A, B or C" in response.text


def test_a_move_keeps_the_tier_filter_of_the_board(client, alice, tiered, stages_a):
    client.force_login(alice)
    deal = tiered["A"]
    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"stage": stages_a[1].pk, "version": deal.version, "tier": ["A", "B"]},
        **HTMX,
    )
    assert response.status_code == 200
    # The source column's header counts the filtered deals: B only (C is filtered out).
    header = response.text.split(f'id="stage-{stages_a[0].pk}-header"')[1]
    assert 'title="Open deals">1</span>' in header


def test_company_list_badges_and_tier_filter(client, alice, tiered):
    client.force_login(alice)
    html = client.get(reverse("company-list")).text
    for tier in "ABC":
        assert f"tier tier-{tier}" in html and f"Firm {tier}" in html
    response = client.get(reverse("company-list"), {"tier": ["A", "C"]})
    assert "Firm A" in response.text and "Firm C" in response.text
    assert "Firm B" not in response.text
    response = client.get(reverse("company-list"), {"tier": "B", "q": "firm"}, **HTMX)
    assert "Firm B" in response.text and "Firm A" not in response.text
    response = client.get(reverse("company-list"), {"tier": "Z"})
    assert response.status_code == 400
    assert "Filter by tier A, B or C" in response.text
    Company.objects.filter(tier="A").update(tier="B")
    assert "No companies in these tiers" in client.get(reverse("company-list"), {"tier": "A"}).text


def test_company_list_filter_never_shows_another_team(client, carol, tiered):
    client.force_login(carol)
    response = client.get(reverse("company-list"), {"tier": ["A", "B", "C"]})
    assert response.status_code == 200
    assert "Firm A" not in response.text


def test_review_rows_carry_the_tier_badge(client, bob, tiered):
    client.force_login(bob)
    html = client.get(reverse("review")).text
    assert 'title="Tier A">A</span>Firm A' in html
    assert 'title="Tier C">C</span>Firm C' in html


def test_seed_demo_leaves_a_spread_of_tiers(db):
    call_command("seed_demo", stdout=StringIO())
    counts = {t: Company.objects.filter(tier=t).count() for t in "ABC"}
    assert all(counts.values()), counts
    assert counts["A"] < counts["B"] + counts["C"]
    assert Company.objects.filter(tier_computed_at__isnull=True).count() == 0
    assert organisation_get().tiers_recomputed_at is not None
