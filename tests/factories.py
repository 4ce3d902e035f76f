from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.models import Company, Contact
from pipeline.models import Deal, Pipeline, Stage
from pipeline.services import POSITION_GAP, stage_totals_rebuild


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.SALESPERSON


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    team = factory.SubFactory(TeamFactory)
    name = factory.Faker("company")
    domain = factory.Faker("domain_name")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    company = factory.SubFactory(CompanyFactory)
    name = factory.Faker("name")
    email = factory.Faker("email")


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Pipeline {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    pipeline = factory.SubFactory(PipelineFactory)
    name = factory.Sequence(lambda n: f"Stage {n}")
    position = factory.Sequence(lambda n: n)
    probability = 20
    rot_days = 14


class DealFactory(factory.django.DjangoModelFactory):
    """An open deal placed at the bottom of its stage's column."""

    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Deal {n}")
    stage = factory.SubFactory(StageFactory)
    pipeline = factory.LazyAttribute(lambda d: d.stage.pipeline)
    company = factory.LazyAttribute(lambda d: CompanyFactory(team=d.stage.pipeline.team))
    value = Decimal("1000.00")
    currency = "EUR"
    stage_entered_at = factory.LazyFunction(timezone.now)

    @factory.lazy_attribute
    def position(self):
        last = (
            Deal.objects.filter(stage=self.stage, status="open")
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        return (last or 0) + POSITION_GAP

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        deal = super()._create(model_class, *args, **kwargs)
        # Deals made here bypass the services: keep the stage's column totals true.
        stage_totals_rebuild(stage_ids=[deal.stage_id])
        return deal
