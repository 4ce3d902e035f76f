from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Max

from accounts.models import Membership, Role, Team, User
from crm.models import Company, Contact
from pipeline.models import Deal, DealStatus, Pipeline, Stage, StageChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [Team, User, Membership, Pipeline, Stage, Company, Contact, Deal, StageChange]
    return {model.__name__: model.objects.count() for model in models}


def test_creates_teams_and_users_with_their_roles():
    seed()

    assert set(Team.objects.values_list("name", flat=True)) == {"North", "South"}
    roles = set(Membership.objects.values_list("user__username", "team__name", "role"))
    assert roles == {
        ("admin", "North", Role.ADMIN),
        ("maria", "North", Role.MANAGER),
        ("sven", "North", Role.SALESPERSON),
        ("lena", "North", Role.SALESPERSON),
        ("karl", "South", Role.SALESPERSON),
    }
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()
    assert not User.objects.filter(first_name="").exists()


def test_creates_pipelines_with_their_stages():
    seed()

    stage_counts = set(
        Pipeline.objects.annotate(stage_count=Count("stages")).values_list(
            "team__name", "name", "stage_count"
        )
    )
    assert stage_counts == {
        ("North", "New business", 6),
        ("North", "Key accounts", 4),
        ("South", "Sales South", 5),
    }
    new_business = Stage.objects.filter(pipeline__name="New business").order_by("position")
    assert new_business.first().name == "Lead in"
    assert new_business.last().name == "Negotiation"
    probabilities = list(new_business.values_list("probability", flat=True))
    assert probabilities == sorted(probabilities)
    assert all(7 <= stage.rot_days <= 30 for stage in Stage.objects.all())


def test_companies_belong_to_a_team_and_are_owned_by_its_salespeople():
    seed()

    assert Company.objects.count() >= 30
    for company in Company.objects.select_related("owner", "team"):
        assert company.domain
        assert company.owner.memberships.get().team == company.team
        assert 1 <= company.contacts.count() <= 3


def test_open_deal_positions_are_unique_within_their_stage():
    seed("--deals", "50")

    duplicates = (
        Deal.objects.filter(status=DealStatus.OPEN)
        .values("stage", "position")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_deals_cover_every_status_with_consistent_fields():
    seed()

    deals = Deal.objects.all()
    assert {deal.status for deal in deals} == set(DealStatus.values)
    assert deals.filter(owner__isnull=True).exists()
    assert set(deals.values_list("currency", flat=True)) >= {"DKK", "SEK", "NOK", "EUR"}
    for deal in deals:
        assert deal.stage.pipeline_id == deal.pipeline_id
        if deal.status == DealStatus.LOST:
            assert deal.lost_reason_id is not None
            assert deal.lost_from_stage_id == deal.stage_id
        if deal.status in (DealStatus.WON, DealStatus.LOST):
            assert deal.closed_at is not None and deal.closed_at > deal.stage_entered_at
        else:
            assert deal.closed_at is None
        if deal.status == DealStatus.PAUSED:
            assert deal.paused_until is not None


def test_every_deal_has_a_stage_history_ending_in_its_stage():
    seed("--deals", "20")

    history: dict[int, list[StageChange]] = {}
    for change in StageChange.objects.order_by("at", "pk"):
        history.setdefault(change.deal_id, []).append(change)
    for deal in Deal.objects.all():
        changes = history[deal.pk]
        assert changes[0].from_stage_id is None
        assert changes[0].at == deal.created_at
        assert changes[-1].to_stage_id == deal.stage_id
        assert changes[-1].at == deal.stage_entered_at
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert after.at > before.at


def test_some_deals_have_history_going_back_months():
    seed()

    assert StageChange.objects.filter(from_stage__isnull=False).count() > 50
    oldest = Deal.objects.order_by("created_at").first()
    newest_change = StageChange.objects.order_by("-at").first()
    assert (newest_change.at - oldest.created_at).days > 90


def test_running_twice_changes_nothing():
    seed()
    before = counts()

    seed()

    assert counts() == before


def test_extra_deals_are_appended_to_new_business():
    seed()
    pipeline = Pipeline.objects.get(team__name="North", name="New business")
    bottom_before = dict(
        Deal.objects.filter(pipeline=pipeline)
        .values("stage")
        .annotate(bottom=Max("position"))
        .values_list("stage", "bottom")
    )
    before = counts()
    open_before = set(Deal.objects.filter(pipeline=pipeline).values_list("pk", flat=True))

    seed("--deals", "500")

    added = Deal.objects.filter(pipeline=pipeline).exclude(pk__in=open_before)
    assert added.count() == 500
    assert added.filter(status=DealStatus.OPEN).count() == 500
    assert Deal.objects.count() == before["Deal"] + 500
    assert StageChange.objects.count() == before["StageChange"] + 500
    assert added.values("stage").distinct().count() == 6
    assert set(added.values_list("owner__username", flat=True)) == {"sven", "lena", "maria", None}
    assert not added.exclude(company__team__name="North").exists()
    for deal in added:
        assert deal.position > bottom_before.get(deal.stage_id, 0)
        assert deal.position % 1024 == 0
        assert [(c.from_stage_id, c.to_stage_id) for c in deal.stage_changes.all()] == [
            (None, deal.stage_id)
        ]


def test_extra_deals_are_added_again_on_a_second_run():
    seed("--deals", "30")
    before = counts()

    seed("--deals", "30")

    after = counts()
    assert after["Deal"] == before["Deal"] + 30
    assert {k: v for k, v in after.items() if k not in ("Deal", "StageChange")} == {
        k: v for k, v in before.items() if k not in ("Deal", "StageChange")
    }


def test_if_empty_does_nothing_when_users_exist():
    UserFactory(username="someone")
    before = counts()

    output = seed("--if-empty", "--deals", "10")

    assert counts() == before
    assert "nothing seeded" in output


def test_if_empty_seeds_an_empty_database():
    seed("--if-empty")

    assert User.objects.filter(username="maria").exists()
    assert Deal.objects.exists()


def test_the_given_password_works_and_is_reset_on_every_run():
    seed("--password", "s3cret-demo")
    assert all(user.check_password("s3cret-demo") for user in User.objects.all())

    output = seed("--password", "other")

    assert all(user.check_password("other") for user in User.objects.all())
    assert "other" in output and "maria" in output


def test_same_seed_gives_the_same_deals():
    seed("--seed", "7")
    first = list(Deal.objects.order_by("pk").values_list("title", "value", "currency", "status"))
    StageChange.objects.all().delete()
    Deal.objects.all().delete()

    seed("--seed", "7")

    second = list(Deal.objects.order_by("pk").values_list("title", "value", "currency", "status"))
    assert second == first
