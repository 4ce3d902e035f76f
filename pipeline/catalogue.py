"""The pipeline templates: ready-made pipelines an admin starts from (set-up, and settings'
"New pipeline from template").

Written the way the sales method describes good stages: each stage is a decision the
customer has made (not a task of the seller), its exit criteria are customer events that must
(required) or should (advisory) have happened before a deal moves on, its win probability
rises with every stage, its rot days say how long a deal may sit without movement, and its
follow-up routines plan what the owner does when a deal arrives.

Data as code: every text is marked for translation and stays lazy here, so a pipeline
created from a template gets its names in the language active at that moment
(`pipeline.services.pipeline_templates`). The catalogue is read by
`pipeline.selectors.pipeline_templates` (the picker) and the service, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from pipeline.models import ActivityKind

CALL, EMAIL, MEETING, TASK = (
    ActivityKind.CALL,
    ActivityKind.EMAIL,
    ActivityKind.MEETING,
    ActivityKind.TASK,
)


@dataclass(frozen=True)
class CriterionTemplate:
    text: Promise
    is_required: bool = True


@dataclass(frozen=True)
class RoutineTemplate:
    subject: Promise
    kind: str
    due_in_days: int  # working days after the deal enters the stage


@dataclass(frozen=True)
class StageTemplate:
    name: Promise
    probability: int
    rot_days: int
    criteria: tuple[CriterionTemplate, ...] = ()
    routines: tuple[RoutineTemplate, ...] = ()


@dataclass(frozen=True)
class PipelineTemplate:
    key: str
    name: Promise
    description: Promise
    stages: tuple[StageTemplate, ...]


def required(text: Promise) -> CriterionTemplate:
    return CriterionTemplate(text=text, is_required=True)


def advisory(text: Promise) -> CriterionTemplate:
    return CriterionTemplate(text=text, is_required=False)


def routine(subject: Promise, kind: str, days: int) -> RoutineTemplate:
    return RoutineTemplate(subject=subject, kind=kind, due_in_days=days)


B2B_SERVICE = PipelineTemplate(
    key="b2b-service",
    name=_("B2B services"),
    description=_(
        "For a small firm selling services to other businesses: from a first conversation "
        "to a signed agreement in five customer decisions."
    ),
    stages=(
        StageTemplate(
            name=_("Interested"),
            probability=10,
            rot_days=7,
            criteria=(
                required(_("Customer agreed to a conversation about their need")),
                advisory(_("Customer named who else takes part in the decision")),
            ),
            routines=(routine(_("Call to understand the need"), CALL, 1),),
        ),
        StageTemplate(
            name=_("Need confirmed"),
            probability=25,
            rot_days=14,
            criteria=(
                required(_("Customer confirmed the need and what it costs them today")),
                required(_("Customer named the decision maker")),
                advisory(_("Customer shared a budget range")),
            ),
            routines=(
                routine(_("Send a summary of the need and the next steps"), EMAIL, 1),
                routine(_("Prepare the proposal"), TASK, 3),
            ),
        ),
        StageTemplate(
            name=_("Proposal under review"),
            probability=50,
            rot_days=14,
            criteria=(
                required(_("Customer went through the proposal with us")),
                advisory(_("Customer named a decision date")),
            ),
            routines=(
                routine(_("Send a follow-up on the proposal"), EMAIL, 3),
                routine(_("Call to answer questions on the proposal"), CALL, 7),
            ),
        ),
        StageTemplate(
            name=_("Terms agreed"),
            probability=75,
            rot_days=10,
            criteria=(
                required(_("Customer accepted scope and price")),
                advisory(_("Customer confirmed the start date")),
            ),
            routines=(routine(_("Send the agreement for signature"), EMAIL, 1),),
        ),
        StageTemplate(
            name=_("Ready to sign"),
            probability=90,
            rot_days=7,
            criteria=(required(_("Customer signed the agreement")),),
            routines=(routine(_("Call to check the agreement is signed"), CALL, 3),),
        ),
    ),
)

CONSULTING = PipelineTemplate(
    key="consulting",
    name=_("Consulting and agency projects"),
    description=_(
        "For projects sold on a brief: discovery, an agreed scope and budget, then the "
        "proposal and the customer's go-ahead."
    ),
    stages=(
        StageTemplate(
            name=_("Brief received"),
            probability=10,
            rot_days=7,
            criteria=(
                required(_("Customer shared the brief or described the project")),
                advisory(_("Customer said why the project matters now")),
            ),
            routines=(routine(_("Call to book a discovery meeting"), CALL, 1),),
        ),
        StageTemplate(
            name=_("Discovery agreed"),
            probability=25,
            rot_days=14,
            criteria=(
                required(_("Customer took part in the discovery meeting")),
                required(_("Customer named the decision maker and the budget owner")),
            ),
            routines=(
                routine(_("Hold the discovery meeting"), MEETING, 5),
                routine(_("Send the discovery notes"), EMAIL, 6),
            ),
        ),
        StageTemplate(
            name=_("Scope and budget agreed"),
            probability=45,
            rot_days=14,
            criteria=(
                required(_("Customer agreed to the scope in writing")),
                required(_("Customer confirmed the budget range")),
                advisory(_("Customer agreed to the timeline")),
            ),
            routines=(routine(_("Write and send the proposal"), TASK, 3),),
        ),
        StageTemplate(
            name=_("Proposal under review"),
            probability=65,
            rot_days=14,
            criteria=(
                required(_("Customer went through the proposal with us")),
                advisory(_("Customer named a decision date")),
            ),
            routines=(
                routine(_("Send a follow-up on the proposal"), EMAIL, 3),
                routine(_("Call to agree on open points"), CALL, 7),
            ),
        ),
        StageTemplate(
            name=_("Go-ahead given"),
            probability=90,
            rot_days=10,
            criteria=(required(_("Customer signed the contract or sent a purchase order")),),
            routines=(routine(_("Plan the kick-off with the customer"), MEETING, 5),),
        ),
    ),
)

SAAS = PipelineTemplate(
    key="saas",
    name=_("SaaS subscriptions"),
    description=_(
        "For software sold as a subscription: a demo, a trial with agreed success criteria, "
        "the plan chosen and the order signed."
    ),
    stages=(
        StageTemplate(
            name=_("Demo requested"),
            probability=10,
            rot_days=7,
            criteria=(required(_("Customer attended the demo")),),
            routines=(
                routine(_("Confirm the demo date"), EMAIL, 0),
                routine(_("Give the demo"), MEETING, 3),
            ),
        ),
        StageTemplate(
            name=_("Fit confirmed"),
            probability=25,
            rot_days=14,
            criteria=(
                required(_("Customer confirmed the product solves their problem")),
                required(_("Customer agreed on the trial's success criteria")),
                advisory(_("Customer named the decision maker")),
            ),
            routines=(routine(_("Set up the trial account"), TASK, 1),),
        ),
        StageTemplate(
            name=_("Trial running"),
            probability=50,
            rot_days=21,
            criteria=(
                required(_("Customer confirmed the success criteria are met")),
                advisory(_("Customer's users logged in during the trial")),
            ),
            routines=(
                routine(_("Check in on the trial"), CALL, 3),
                routine(_("Review the trial against its success criteria"), MEETING, 10),
            ),
        ),
        StageTemplate(
            name=_("Plan chosen"),
            probability=75,
            rot_days=10,
            criteria=(
                required(_("Customer chose a plan and the number of seats")),
                advisory(_("Customer's purchasing approved the spend")),
            ),
            routines=(routine(_("Send the order form"), EMAIL, 1),),
        ),
        StageTemplate(
            name=_("Order in signature"),
            probability=90,
            rot_days=7,
            criteria=(required(_("Customer signed the order")),),
            routines=(routine(_("Call to check the order is signed"), CALL, 2),),
        ),
    ),
)

KEY_ACCOUNTS = PipelineTemplate(
    key="key-accounts",
    name=_("Key accounts and tenders"),
    description=_(
        "For large customers and public tenders: long cycles, many people in the decision, "
        "a formal bid and its evaluation."
    ),
    stages=(
        StageTemplate(
            name=_("Opportunity identified"),
            probability=5,
            rot_days=30,
            criteria=(
                required(_("Customer confirmed a project or tender is coming")),
                advisory(_("Customer named the people in the buying group")),
            ),
            routines=(routine(_("Map the buying group"), TASK, 3),),
        ),
        StageTemplate(
            name=_("Invited to bid"),
            probability=20,
            rot_days=21,
            criteria=(
                required(_("Customer sent the tender documents or requirements")),
                required(_("Customer confirmed the submission deadline")),
                advisory(_("Customer answered our clarification questions")),
            ),
            routines=(
                routine(_("Decide bid or no bid"), MEETING, 2),
                routine(_("Send clarification questions"), EMAIL, 5),
            ),
        ),
        StageTemplate(
            name=_("Bid under evaluation"),
            probability=35,
            rot_days=30,
            criteria=(required(_("Customer confirmed our bid is complete and on time")),),
            routines=(routine(_("Call to confirm the bid arrived"), CALL, 1),),
        ),
        StageTemplate(
            name=_("Shortlisted"),
            probability=55,
            rot_days=21,
            criteria=(
                required(_("Customer invited us to present or negotiate")),
                advisory(_("Customer shared how the bids are scored")),
            ),
            routines=(routine(_("Prepare the presentation"), TASK, 3),),
        ),
        StageTemplate(
            name=_("Preferred supplier"),
            probability=80,
            rot_days=21,
            criteria=(
                required(_("Customer announced the award to us")),
                advisory(_("Customer's standstill period ended")),
            ),
            routines=(
                routine(_("Send the contract draft"), EMAIL, 2),
                routine(_("Agree on the contract terms"), MEETING, 10),
            ),
        ),
        StageTemplate(
            name=_("Contract in signature"),
            probability=95,
            rot_days=14,
            criteria=(required(_("Customer signed the contract")),),
            routines=(routine(_("Call to check the contract is signed"), CALL, 5),),
        ),
    ),
)

MINIMAL = PipelineTemplate(
    key="minimal",
    name=_("Simple three stages"),
    description=_(
        "The shortest useful pipeline: interest, proposal, signature. Start here and add "
        "stages when you need them."
    ),
    stages=(
        StageTemplate(
            name=_("Interested"),
            probability=20,
            rot_days=14,
            criteria=(required(_("Customer confirmed the need")),),
            routines=(routine(_("Call to understand the need"), CALL, 1),),
        ),
        StageTemplate(
            name=_("Proposal under review"),
            probability=50,
            rot_days=14,
            criteria=(
                required(_("Customer went through the proposal with us")),
                advisory(_("Customer named a decision date")),
            ),
            routines=(routine(_("Send a follow-up on the proposal"), EMAIL, 3),),
        ),
        StageTemplate(
            name=_("Ready to sign"),
            probability=80,
            rot_days=10,
            criteria=(required(_("Customer signed the agreement")),),
            routines=(routine(_("Call to check the agreement is signed"), CALL, 3),),
        ),
    ),
)

# In the order the picker shows them.
TEMPLATES: tuple[PipelineTemplate, ...] = (B2B_SERVICE, CONSULTING, SAAS, KEY_ACCOUNTS, MINIMAL)
TEMPLATES_BY_KEY: dict[str, PipelineTemplate] = {t.key: t for t in TEMPLATES}


def template_by_key(key: str) -> PipelineTemplate | None:
    """The template with this key, or None."""
    return TEMPLATES_BY_KEY.get(key)
