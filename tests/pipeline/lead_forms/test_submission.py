"""A website lead becoming a deal (pipeline.services.lead_forms.lead_submit): matching the
contact and the company, the deal in the first stage with its history and a next step, who
owns it, who hears of it, and what a closed form refuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Role
from crm.models import Company, Contact, Note
from pipeline import services
from pipeline.models import (
    Activity,
    Deal,
    FollowUpRoutine,
    LeadForm,
    Notification,
    NotificationKind,
    OwnerRule,
    StageChange,
)
from pipeline.services.lead_forms import Lead, LeadFormClosed
from pipeline.services.routines import working_days_after
from tests.factories import CompanyFactory, ContactFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def lead(**overrides) -> Lead:
    values = {
        "name": "Jane Doe",
        "email": "jane@acme.example",
        "phone": "+45 12 34 56 78",
        "company": "Acme A/S",
        "message": "",
    }
    values.update(overrides)
    return Lead(**values)


def submit(lead_form: LeadForm, **overrides) -> Deal:
    return services.lead_submit(lead_form=lead_form, lead=lead(**overrides))


# --- the deal -------------------------------------------------------------------------------


def test_a_lead_is_a_deal_at_the_top_of_the_first_stage_with_its_history(lead_form, stages_a):
    deal = submit(lead_form, budget=Decimal("12500"))
    assert deal.stage_id == stages_a[0].pk and deal.pipeline_id == stages_a[0].pipeline_id
    assert deal.source == "Website form: Contact us"
    assert deal.title == "Acme A/S"
    assert deal.value == Decimal("12500.00")
    assert deal.status == "open"
    entry = StageChange.objects.get(deal=deal)
    assert (entry.from_stage_id, entry.to_stage_id, entry.user_id) == (None, stages_a[0].pk, None)
    lead_form.refresh_from_db()
    assert lead_form.submission_count == 1 and lead_form.last_submission_at is not None


def test_without_a_routine_the_form_plans_its_own_first_next_step(lead_form, alice):
    deal = submit(lead_form)
    step = Activity.objects.get(deal=deal)
    assert (step.subject, step.kind, step.assignee_id) == (
        "Call back within 1 working day",
        "call",
        deal.owner_id,
    )
    assert deal.next_step_id == step.pk
    from django.utils import timezone

    assert step.due_date == working_days_after(timezone.localdate(), 1)


def test_the_first_stages_routine_plans_the_next_step_instead(lead_form, stages_a):
    FollowUpRoutine.objects.create(
        stage=stages_a[0], subject="Qualify the enquiry by phone", kind="call", due_in_days=0
    )
    type(stages_a[0]).objects.filter(pk=stages_a[0].pk).update(has_routines=True)
    deal = submit(lead_form)
    subjects = list(Activity.objects.filter(deal=deal).values_list("subject", flat=True))
    assert subjects == ["Qualify the enquiry by phone"]
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Qualify the enquiry by phone"


def test_the_message_becomes_a_note_on_the_deal(lead_form):
    deal = submit(lead_form, message="Please call after 14:00.\nThanks")
    note = Note.objects.get(deal=deal)
    assert note.body == "Please call after 14:00.\nThanks" and note.author_id is None


# --- matching -------------------------------------------------------------------------------


def test_a_new_business_email_creates_company_and_contact(lead_form, team_a):
    deal = submit(lead_form, company="", email="Jane@Nordhavn-Logistik.dk", website="")
    company = Company.objects.get(pk=deal.company_id)
    assert (company.team_id, company.name, company.domain) == (
        team_a.pk,
        "nordhavn-logistik.dk",
        "nordhavn-logistik.dk",
    )
    assert company.owner_id == deal.owner_id
    contact = Contact.objects.get(pk=deal.contact_id)
    assert (contact.company_id, contact.name, contact.email, contact.phone) == (
        company.pk,
        "Jane Doe",
        "Jane@Nordhavn-Logistik.dk",
        "+45 12 34 56 78",
    )


def test_the_email_domain_matches_an_existing_company_of_the_team(lead_form, team_a, team_b):
    CompanyFactory(team=team_b, name="Acme (South)", domain="acme.example")
    ours = CompanyFactory(team=team_a, name="ACME Nordic", domain="www.acme.example")
    deal = submit(lead_form, company="Something else")
    assert deal.company_id == ours.pk
    assert Company.objects.count() == 2
    assert Contact.objects.get(pk=deal.contact_id).company_id == ours.pk


def test_a_website_matches_the_web_domain_when_the_mail_is_free_mail(lead_form, team_a):
    ours = CompanyFactory(team=team_a, name="Fjord Bikes", domain="FjordBikes.no")
    deal = submit(lead_form, email="ola@gmail.com", company="", website="https://www.fjordbikes.no")
    assert deal.company_id == ours.pk


def test_the_company_name_matches_without_legal_form_case_or_punctuation(lead_form, team_a):
    CompanyFactory(team=team_a, name="Müller Lager Nord GmbH", domain="")
    ours = CompanyFactory(team=team_a, name="Müller Lager GmbH", domain="")
    deal = submit(lead_form, email="k@gmail.com", company="müller-LAGER A.G.")
    assert deal.company_id == ours.pk


def test_free_mail_is_never_a_company_domain(lead_form, team_a):
    CompanyFactory(team=team_a, name="Somebody else", domain="gmail.com")
    deal = submit(lead_form, email="solo@gmail.com", company="")
    company = Company.objects.get(pk=deal.company_id)
    assert company.name == "Jane Doe" and company.domain == ""
    assert deal.title == "Jane Doe"


def test_the_email_matches_an_existing_contact_which_is_left_as_it_was(lead_form, team_a):
    company = CompanyFactory(team=team_a, name="Acme A/S", domain="acme.dk")
    contact = ContactFactory(company=company, name="Jane Original", email="jane@acme.example")
    before = list(Contact.objects.values_list("pk", "name", "email", "phone", "title"))
    deal = submit(lead_form, name="Someone Else", phone="+1 555 0100", job_title="CEO")
    assert (deal.contact_id, deal.company_id) == (contact.pk, company.pk)
    assert list(Contact.objects.values_list("pk", "name", "email", "phone", "title")) == before


def test_another_teams_contact_is_not_matched(lead_form, team_b):
    other = ContactFactory(company=CompanyFactory(team=team_b), email="jane@acme.example")
    deal = submit(lead_form)
    assert deal.contact_id != other.pk
    assert Contact.objects.get(pk=deal.contact_id).company.team_id == lead_form.pipeline.team_id


# --- owners and notifications -----------------------------------------------------------------


def test_round_robin_takes_turns_in_id_order(lead_form, alice, alex):
    owners = [submit(lead_form, email=f"p{i}@x{i}.example").owner_id for i in range(5)]
    first, second = sorted([alice.pk, alex.pk])
    assert owners == [first, second, first, second, first]


def test_round_robin_passes_over_people_who_left_or_were_deactivated(lead_form, alice, alex):
    alex.is_active = False
    alex.save()
    owners = {submit(lead_form, email=f"p{i}@x{i}.example").owner_id for i in range(3)}
    assert owners == {alice.pk}
    alice.memberships.all().delete()
    assert submit(lead_form, email="last@x.example").owner_id is None


def test_a_fixed_owner_gets_every_lead(lead_form, alex):
    LeadForm.objects.filter(pk=lead_form.pk).update(owner_rule=OwnerRule.FIXED, fixed_owner=alex)
    assert {submit(lead_form, email=f"p{i}@x{i}.example").owner_id for i in range(3)} == {alex.pk}


def test_the_owner_is_notified_at_once(lead_form):
    deal = submit(lead_form)
    notes = list(Notification.objects.values_list("user_id", "kind", "deal_id", "actor_id"))
    assert notes == [(deal.owner_id, NotificationKind.LEAD_RECEIVED, deal.pk, None)]


def test_an_unassigned_lead_notifies_the_teams_managers(lead_form, bob, team_a, team_b):
    MembershipFactory(user=UserFactory(username="south_boss"), team=team_b, role=Role.MANAGER)
    LeadForm.objects.filter(pk=lead_form.pk).update(owner_rule=OwnerRule.UNASSIGNED)
    deal = submit(lead_form)
    assert deal.owner_id is None
    assert list(Notification.objects.values_list("user_id", flat=True)) == [bob.pk]
    step = Activity.objects.get(deal=deal)
    assert step.assignee_id is None  # the managers hand out the lead and its step


# --- refusals -------------------------------------------------------------------------------


def _everything():
    return (
        Deal.objects.count(),
        Company.objects.count(),
        Contact.objects.count(),
        Activity.objects.count(),
        Notification.objects.count(),
        StageChange.objects.count(),
        list(LeadForm.objects.values_list("submission_count", "round_robin_last")),
    )


def test_a_form_turned_off_meanwhile_refuses_and_writes_nothing(lead_form, admin):
    services.lead_form_set_active(acting_user=admin, lead_form=lead_form, active=False)
    before = _everything()
    with pytest.raises(LeadFormClosed):
        submit(lead_form)
    assert _everything() == before


def test_a_pipeline_without_stages_refuses_and_writes_nothing(lead_form, stages_a):
    type(stages_a[0]).objects.filter(pipeline=lead_form.pipeline).update(is_archived=True)
    before = _everything()
    with pytest.raises(LeadFormClosed):
        submit(lead_form)
    assert _everything() == before


def test_working_days_count_from_a_weekend_to_the_monday():
    assert working_days_after(date(2027, 3, 6), 1) == date(2027, 3, 9)  # Saturday -> Tuesday
