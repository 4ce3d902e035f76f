"""Seed a demo organisation: two teams, five users, three pipelines, companies, contacts, deals.

    python manage.py seed_demo [--deals N] [--password P] [--seed S] [--if-empty]

Idempotent: teams, users, pipelines, stages, companies and contacts are looked up by their
natural keys; the base demo deals are written only while the demo pipelines have no deals.
`--deals N` appends N open deals to North's "New business" board on every run (for load
testing); it writes with `bulk_create` and no per-row queries.
"""

from __future__ import annotations

import random
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from accounts.models import Membership, Role, Team, User
from crm.devtools import demo_history
from crm.devtools.demo_history import seed_history
from crm.devtools.demo_language import DEFAULT_LOST_REASONS, demo_translate, demo_untranslate
from crm.mail import absolute_url
from crm.models import Company, Contact
from pipeline.forecasting import KINDS, monday, period_add, period_start
from pipeline.models import (
    Activity,
    ActivityKind,
    Currency,
    Deal,
    DealCriterionCheck,
    DealRevision,
    DealStatus,
    ExitCriterion,
    Flag,
    FollowUpRoutine,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    LeadForm,
    LostReason,
    Notification,
    NotificationKind,
    Pipeline,
    RepCapacity,
    SalesTarget,
    Stage,
    StageChange,
)
from pipeline.money import rates_on, round_cents
from pipeline.services import (
    POSITION_GAP,
    flags_scan,
    lead_form_create,
    stage_totals_rebuild,
)

BATCH_SIZE = 5000
EMAIL_DOMAIN = "nordlys.example"

NORTH = "North"
DEMO_LEAD_FORM = N_("Contact us")
# Open-deal capacities for the lead balance (one rep over it, one with room).
DEMO_CAPACITIES = [("sven", 20), ("lena", 60)]
SOUTH = "South"
NEW_BUSINESS = N_("New business")
KEY_ACCOUNTS = N_("Key accounts")
SALES_SOUTH = N_("Sales South")

# username, first name, last name, [(team, role)], is superuser
USERS = [
    ("admin", "Astrid", "Holm", [(NORTH, Role.ADMIN)], True),
    ("maria", "Maria", "Lindqvist", [(NORTH, Role.MANAGER)], False),
    ("sven", "Sven", "Olsen", [(NORTH, Role.SALESPERSON)], False),
    ("lena", "Lena", "Fischer", [(NORTH, Role.SALESPERSON)], False),
    ("karl", "Karl", "Berg", [(SOUTH, Role.SALESPERSON)], False),
]

# team, pipeline, [(stage, probability %, rot days)]
PIPELINES = [
    (
        NORTH,
        NEW_BUSINESS,
        [
            (N_("Lead in"), 10, 7),
            (N_("Qualified"), 20, 14),
            (N_("Discovery done"), 35, 14),
            (N_("Proposal sent"), 50, 21),
            (N_("Decision maker met"), 65, 21),
            (N_("Negotiation"), 80, 30),
        ],
    ),
    (
        NORTH,
        KEY_ACCOUNTS,
        [
            (N_("Opportunity identified"), 20, 30),
            (N_("Solution workshop"), 40, 21),
            (N_("Proposal sent"), 60, 21),
            (N_("Contract negotiation"), 80, 30),
        ],
    ),
    (
        SOUTH,
        SALES_SOUTH,
        [
            (N_("Lead in"), 10, 7),
            (N_("Qualified"), 25, 14),
            (N_("Demo held"), 45, 14),
            (N_("Offer sent"), 60, 21),
            (N_("Negotiation"), 80, 30),
        ],
    ),
]

# Exit criteria per (pipeline, stage): customer events, (text, required). A forward move out
# of the stage asks for them; required ones block it until ticked.
EXIT_CRITERIA = {
    (NEW_BUSINESS, "Lead in"): [(N_("Customer replied and agreed to a first call"), True)],
    (NEW_BUSINESS, "Qualified"): [
        (N_("Customer confirmed the need"), True),
        (N_("Budget range discussed"), False),
    ],
    (NEW_BUSINESS, "Discovery done"): [
        (N_("Customer shared their requirements in writing"), True),
        (N_("Timeline for a decision named by the customer"), False),
    ],
    (NEW_BUSINESS, "Proposal sent"): [
        (N_("Decision maker identified"), True),
        (N_("Customer gave feedback on the proposal"), False),
    ],
    (NEW_BUSINESS, "Decision maker met"): [(N_("Decision maker agreed to negotiate terms"), True)],
    (KEY_ACCOUNTS, "Opportunity identified"): [(N_("Sponsor agreed to a workshop"), True)],
    (KEY_ACCOUNTS, "Solution workshop"): [
        (N_("Customer signed off the solution outline"), True),
        (N_("Procurement process explained by the customer"), False),
    ],
    (SALES_SOUTH, "Qualified"): [
        (N_("Customer confirmed the need"), True),
        (N_("Budget range discussed"), False),
    ],
    (SALES_SOUTH, "Demo held"): [(N_("Decision maker attended the demo"), False)],
}

# Follow-up routines per (pipeline, stage): (what, kind, working days after entering). A deal
# moved into the stage gets these activities for its owner.
ROUTINES = {
    (NEW_BUSINESS, "Lead in"): [(N_("Call to qualify the lead"), "call", 1)],
    (NEW_BUSINESS, "Qualified"): [(N_("Send a summary of the need"), "email", 1)],
    (NEW_BUSINESS, "Discovery done"): [(N_("Prepare the proposal"), "task", 3)],
    (NEW_BUSINESS, "Proposal sent"): [
        (N_("Send a follow-up on the proposal"), "email", 3),
        (N_("Call to walk through the proposal"), "call", 7),
    ],
    (NEW_BUSINESS, "Negotiation"): [(N_("Agree on the open points"), "meeting", 5)],
    (KEY_ACCOUNTS, "Solution workshop"): [(N_("Hold the solution workshop"), "meeting", 5)],
    (KEY_ACCOUNTS, "Proposal sent"): [(N_("Send a follow-up on the proposal"), "email", 3)],
    (SALES_SOUTH, "Demo held"): [(N_("Send the demo recording and a summary"), "email", 1)],
    (SALES_SOUTH, "Offer sent"): [(N_("Send a follow-up on the offer"), "email", 3)],
}

# The stage after which a deal must have all three qualification facts (clean-up list).
QUALIFIED_AFTER = {
    NEW_BUSINESS: "Discovery done",
    KEY_ACCOUNTS: "Solution workshop",
    SALES_SOUTH: "Demo held",
}

# team, name, domain, country, key account
COMPANIES = [
    (NORTH, "Fjordline Logistik AS", "fjordline-logistik.no", "NO", True),
    (NORTH, "København Byg ApS", "kobenhavnbyg.dk", "DK", False),
    (NORTH, "Göteborg Verktyg AB", "goteborgverktyg.se", "SE", True),
    (NORTH, "Nordkyst Fiskeeksport AS", "nordkyst-fisk.no", "NO", False),
    (NORTH, "Aarhus Havneservice A/S", "aarhushavneservice.dk", "DK", True),
    (NORTH, "Bergen Kjøleteknikk AS", "bergenkjol.no", "NO", False),
    (NORTH, "Malmö Emballage AB", "malmoemballage.se", "SE", False),
    (NORTH, "Trondheim Elektro AS", "trondheimelektro.no", "NO", False),
    (NORTH, "Odense Maskinfabrik A/S", "odensemaskin.dk", "DK", True),
    (NORTH, "Uppsala Lab Supply AB", "uppsalalab.se", "SE", False),
    (NORTH, "Stavanger Offshore Service AS", "stavanger-offshore.no", "NO", True),
    (NORTH, "Vestjysk Transport A/S", "vestjysktransport.dk", "DK", False),
    (NORTH, "Luleå Stål & Montage AB", "lulea-stal.se", "SE", False),
    (NORTH, "Tromsø Kulde AS", "tromsokulde.no", "NO", False),
    (NORTH, "Aalborg Fødevarer A/S", "aalborgfoedevarer.dk", "DK", False),
    (NORTH, "Västerås Automation AB", "vasteras-automation.se", "SE", False),
    (NORTH, "Drammen Lagerhotell AS", "drammenlager.no", "NO", False),
    (NORTH, "Esbjerg Energi Service ApS", "esbjerg-energiservice.dk", "DK", False),
    (NORTH, "Norrland Skog AB", "norrlandskog.se", "SE", True),
    (NORTH, "Kristiansand Marine AS", "krsmarine.no", "NO", False),
    (NORTH, "Roskilde Medico ApS", "roskildemedico.dk", "DK", False),
    (NORTH, "Örebro Grossist AB", "orebrogrossist.se", "SE", False),
    (NORTH, "Bodø Bygg og Anlegg AS", "bodobygg.no", "NO", False),
    (NORTH, "Helsingør Print A/S", "helsingorprint.dk", "DK", False),
    (NORTH, "Jönköping Möbel AB", "jonkopingmobel.se", "SE", False),
    (NORTH, "Nordic Cold Chain AB", "nordiccoldchain.se", "SE", True),
    (NORTH, "Skagerrak Shipping AS", "skagerrakshipping.no", "NO", True),
    (NORTH, "Fyns Andel Logistik A/S", "fynsandel-logistik.dk", "DK", False),
    (SOUTH, "Hanse Maschinenbau GmbH", "hanse-maschinenbau.de", "DE", False),
    (SOUTH, "Bayerische Antriebstechnik GmbH", "bay-antrieb.de", "DE", False),
    (SOUTH, "Rheinland Logistik GmbH & Co. KG", "rheinland-logistik.de", "DE", False),
    (SOUTH, "Schwarzwald Präzision GmbH", "schwarzwald-praezision.de", "DE", False),
    (SOUTH, "Elbe Kühlhaus GmbH", "elbe-kuehlhaus.de", "DE", False),
    (SOUTH, "Kieler Werft Service GmbH", "kieler-werftservice.de", "DE", False),
    (SOUTH, "Flensburger Getränkehandel GmbH", "flensburger-getraenke.de", "DE", False),
    (SOUTH, "Sønderborg Plast A/S", "sonderborgplast.dk", "DK", False),
    (SOUTH, "Lübeck Medizintechnik GmbH", "luebeck-medtech.de", "DE", False),
    (SOUTH, "Helsingborg Hamnlager AB", "helsingborghamnlager.se", "SE", False),
    (SOUTH, "Ruhrstahl Handel AG", "ruhrstahl-handel.de", "DE", False),
    (SOUTH, "Westfalen Agrar eG", "westfalen-agrar.de", "DE", False),
]

FIRST_NAMES = {
    "DK": ["Anders", "Mette", "Rasmus", "Pernille", "Henrik", "Sofie", "Mikkel", "Hanne", "Jens"],
    "NO": ["Bjørn", "Ingrid", "Kristian", "Solveig", "Håkon", "Silje", "Eirik", "Marte", "Tor"],
    "SE": ["Johan", "Karin", "Magnus", "Linnea", "Erik", "Ulrika", "Oskar", "Annika", "Nils"],
    "DE": ["Matthias", "Katrin", "Stefan", "Sabine", "Jürgen", "Julia", "Lukas", "Petra", "Jan"],
}
LAST_NAMES = {
    "DK": ["Jensen", "Nielsen", "Hansen", "Pedersen", "Christensen", "Sørensen", "Madsen"],
    "NO": ["Johansen", "Nilsen", "Haugen", "Hagen", "Kristiansen", "Solberg", "Bakke"],
    "SE": ["Andersson", "Johansson", "Karlsson", "Eriksson", "Lindberg", "Bergström", "Holm"],
    "DE": ["Müller", "Schmidt", "Schneider", "Weber", "Wagner", "Becker", "Hoffmann"],
}
JOB_TITLES = [
    "Head of Logistics",
    "Operations Manager",
    "CFO",
    "Procurement Manager",
    "IT Manager",
    "Managing Director",
    "Warehouse Manager",
    "Fleet Manager",
    "COO",
    "Supply Chain Director",
]
PHONE_PREFIX = {"DK": "+45", "NO": "+47", "SE": "+46", "DE": "+49"}
CURRENCY_OF_COUNTRY = {
    "DK": Currency.DKK,
    "NO": Currency.NOK,
    "SE": Currency.SEK,
    "DE": Currency.EUR,
}
# Rough units per euro, so values have realistic magnitudes in every currency.
UNITS_PER_EUR = {Currency.EUR: 1, Currency.DKK: 7.46, Currency.SEK: 11.4, Currency.NOK: 11.7}

DEAL_TITLES = [
    "{n} forklift telematics licences",
    "Warehouse WMS rollout phase {p}",
    "Fleet tracking for {n} trucks",
    "Cold-chain sensor kit, {n} units",
    "Route planning licences ({n} seats)",
    "Yard management pilot",
    "Dock scheduling module",
    "Handheld scanner refresh ({n} devices)",
    "ERP integration package",
    "Temperature monitoring for {n} reefers",
    "Driver app rollout, {n} drivers",
    "Inventory analytics add-on",
    "Proof-of-delivery upgrade",
    "RFID pallet tracking pilot",
    "Onboarding and training package",
    "Second warehouse go-live",
]
KEY_ACCOUNT_TITLES = [
    "Framework agreement renewal {year}",
    "Group-wide WMS standardisation",
    "Enterprise licence upgrade ({n} users)",
    "Additional site rollout phase {p}",
    "Three-year service agreement",
    "Fleet telematics for {n} vehicles",
]
LOST_NOTES = [
    N_("Went with the incumbent after a price match."),
    N_("Budget moved to next year."),
    N_("Champion left the company."),
    "",
    "",
]

# Activities by phase of the pipeline (early, middle, late stages): (kind, subject).
ACTIVITIES = [
    [
        (ActivityKind.CALL, N_("Discovery call")),
        (ActivityKind.CALL, N_("Qualify budget and timeline")),
        (ActivityKind.EMAIL, N_("Send intro deck and case study")),
        (ActivityKind.MEETING, N_("Intro meeting at their office")),
        (ActivityKind.TASK, N_("Research their current set-up")),
        (ActivityKind.CALL, N_("Follow-up call")),
    ],
    [
        (ActivityKind.MEETING, N_("Product demo")),
        (ActivityKind.MEETING, N_("Site visit at the warehouse")),
        (ActivityKind.TASK, N_("Prepare ROI calculation")),
        (ActivityKind.EMAIL, N_("Send the proposal")),
        (ActivityKind.CALL, N_("Walk through the proposal")),
        (ActivityKind.TASK, N_("Book a reference visit")),
    ],
    [
        (ActivityKind.MEETING, N_("Meet the decision maker")),
        (ActivityKind.EMAIL, N_("Send revised pricing")),
        (ActivityKind.CALL, N_("Negotiation call")),
        (ActivityKind.EMAIL, N_("Send the contract draft")),
        (ActivityKind.TASK, N_("Get legal review of their changes")),
        (ActivityKind.MEETING, N_("Contract signing meeting")),
    ],
]
DONE_NOTES = [
    N_("Good conversation; they want numbers for two sites."),
    N_("Left a voicemail, then reached them by e-mail."),
    N_("Budget owner joined; next step agreed."),
    "",
    "",
    "",
]
# The next step planned for a paused deal.
CHECK_BACK = N_("Check back on the decision")
PAUSE_REASONS = [
    N_("Waiting for budget approval"),
    N_("Customer reorganising their warehouse team"),
    N_("On hold until the new site opens"),
    N_("Decision moved to the next board meeting"),
]
# Share of open base deals left without a next step, and of those made stale on purpose.
NO_NEXT_STEP_SHARE = 0.15
STALE_SHARE = 0.12


# Forecast history: weeks of past snapshots (half a year, so the accuracy panel has a snapshot
# 1 and 4 weeks before each of the last closed months and the last closed quarter).
HISTORY_WEEKS = 26
SLIP_DAYS = [7, 14, 14, 21, 30, 45]
VALUE_FACTORS = [Decimal(f) for f in ("0.7", "0.8", "0.85", "1.15", "1.25", "1.5")]
# Closed deals per rep and month, for the last OUTCOME_MONTHS months and this one:
# pipeline -> ((won low, high), (lost low, high)).
OUTCOME_MONTHS = 6
OUTCOMES = {
    NEW_BUSINESS: ((1, 2), (0, 1)),
    KEY_ACCOUNTS: ((0, 1), (0, 1)),  # for one rep a month
    SALES_SOUTH: ((1, 2), (0, 1)),
}
# Monthly target per rep in euros (quarters: the sum of their months).
TARGET_MONTHS = 6
MONTHLY_TARGETS_EUR = {"sven": 50_000, "lena": 180_000, "karl": 90_000, "maria": 150_000}


@dataclass
class PipelineSpec:
    pipeline: Pipeline
    stages: list[Stage]


def demo_texts() -> list[str]:
    """Every English text the seeder writes, once each."""
    texts = [name for _team, name, _stages in PIPELINES]
    texts += [stage for *_, stages in PIPELINES for stage, _p, _r in stages]
    texts += [text for rows in EXIT_CRITERIA.values() for text, _required in rows]
    texts += [subject for rows in ROUTINES.values() for subject, _kind, _days in rows]
    texts += [subject for phase in ACTIVITIES for _kind, subject in phase]
    texts += [*LOST_NOTES, *DONE_NOTES, *PAUSE_REASONS, CHECK_BACK]
    texts += [reason for names in demo_history.REASONS_BY_PHASE.values() for reason in names]
    texts += [*demo_history.AREAS, *DEFAULT_LOST_REASONS, DEMO_LEAD_FORM]
    return list(dict.fromkeys(text for text in texts if text))


def _ascii(text: str) -> str:
    """'Bjørn Sørensen' -> 'bjorn.sorensen' for e-mail addresses."""
    text = text.lower().translate(str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "ü": "ue"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return ".".join(text.split())


def _phone(rng: random.Random, country: str) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(8))
    if country == "DE":
        return f"+49 {rng.choice(['40', '89', '221', '431', '451'])} {digits[:7]}"
    return f"{PHONE_PREFIX[country]} {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"


def _value(rng: random.Random, currency: str, low_eur: int, high_eur: int) -> Decimal:
    eur = rng.randint(low_eur, high_eur) * 500
    amount = eur * UNITS_PER_EUR[currency]
    step = 500 if currency == Currency.EUR else 5000
    return Decimal(max(step, round(amount / step) * step))


def _title(rng: random.Random, templates: list[str], now: datetime) -> str:
    return rng.choice(templates).format(
        n=rng.choice([12, 20, 25, 40, 60, 80, 120, 150, 200, 350]),
        p=rng.randint(1, 3),
        year=now.year + 1,
    )


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment between `start` and `end` (`start` when the range is empty)."""
    if end <= start:
        return start
    return start + (end - start) * rng.uniform(0.05, 0.95)


def _local_midnight(day: date) -> datetime:
    """00:00 on `day` in the organisation's time zone, in UTC (so that adding days to it, as
    the deal's clocks do, counts real hours across a daylight-saving change)."""
    return timezone.make_aware(datetime.combine(day, clock(0))).astimezone(UTC)


def _rounded(amount: Decimal) -> Decimal:
    """An amount rounded to a whole 500, as deal values are."""
    return Decimal(max(500, round(amount / 500) * 500))


def _revisions(
    deal: Deal, slips: list[tuple[datetime, int]], earlier: tuple[datetime, Decimal] | None
) -> list[DealRevision]:
    """The deal as it was before each of its close-date slips (when, days pushed) and its
    change of value (until when, the value before), as the services record them."""
    moments = [at for at, _days in slips] + ([earlier[0]] if earlier else [])
    revisions = []
    for moment in moments:
        revision = DealRevision.of(deal, at=moment)
        pushed = sum(days for at, days in slips if at >= moment)
        revision.expected_close_date = deal.expected_close_date - timedelta(days=pushed)
        if earlier is not None and earlier[0] >= moment:
            revision.value = earlier[1]
        revision.status = DealStatus.OPEN
        revisions.append(revision)
    return revisions


def _clock(rng: random.Random) -> clock:
    """A meeting time in office hours, on the half hour."""
    return clock(rng.randint(8, 15), rng.choice([0, 30]))


class DemoSeeder:
    """Writes the demo organisation; `stdout` is where the progress and the summary go (a
    command's output wrapper), `style` colours the last line (a command's style; plain when
    left out)."""

    def __init__(self, *, stdout, style=None):
        self.stdout = stdout
        self.style = style or no_style()

    def run(
        self,
        *,
        extra_deals: int = 0,
        password: str = "demo",
        seed: int = 42,
        if_empty: bool = False,
        language: str = "en-gb",
    ) -> None:
        """The base organisation (left as it is where it exists), then `extra_deals` more open
        deals in North's "New business", the flags, the kept totals and the tiers; its texts
        in `language` (crm/devtools/demo_language.py), which becomes the organisation's."""
        if if_empty and User.objects.exists():
            self.stdout.write("Users exist already; nothing seeded (--if-empty).")
            return
        if not connection.features.can_return_rows_from_bulk_insert:
            # The stage history rows need the new deal ids straight from bulk_create.
            raise CommandError(
                f"{connection.vendor} cannot return ids from bulk inserts; "
                "use PostgreSQL or SQLite 3.35+."
            )

        with transaction.atomic():
            # A second run in the same language finds its rows by their English names.
            demo_untranslate(language, demo_texts())
            self._seed_base(password=password, seed=seed)
        if extra_deals:
            self._add_extra_deals(count=extra_deals, seed=seed)
        # The bulk inserts above bypass the services: raise the flags the definitions call for
        # (notifying owners) and bring the kept column totals up to date.
        self._flags_scan_after_bulk_load()
        stage_totals_rebuild()
        self._seed_tiers()
        self._seed_lead_form()
        self._set_language(language)
        self._print_summary(password=password)

    def _set_language(self, language: str) -> None:
        """The demo's texts and the organisation's default language in `language`."""
        from crm.models import Organisation
        from crm.organisation import organisation_changed, organisation_get

        with transaction.atomic():
            changed = demo_translate(language, demo_texts())
            organisation_get()
            Organisation.objects.filter(pk=1).update(language=language)
            organisation_changed()
        if changed:
            self.stdout.write(f"Demo texts in {language}: {changed} rows.")

    def _seed_lead_form(self) -> None:
        """One website lead form for North's first pipeline (round robin over its
        salespeople), kept when it exists; prints its public address."""
        pipeline = Pipeline.objects.filter(team__name=NORTH).order_by("position", "pk").first()
        if pipeline is None:
            return
        lead_form = LeadForm.objects.filter(pipeline=pipeline, name=DEMO_LEAD_FORM).first()
        if lead_form is None:
            admin = User.objects.get(username="admin")
            lead_form = lead_form_create(acting_user=admin, name=DEMO_LEAD_FORM, pipeline=pipeline)
            lead_form.title = "Talk to our sales team"
            lead_form.intro = "Tell us what you need; we call you back within one working day."
            lead_form.allowed_origins = "http://localhost:8080"
            lead_form.save(update_fields=["title", "intro", "allowed_origins"])
            self._seed_lead_balance(lead_form)
        url = absolute_url(reverse("lead-form-public", args=[lead_form.key]))
        self.stdout.write(f"Demo lead form for {NORTH} / {pipeline.name}: {url}")

    def _seed_lead_balance(self, lead_form: LeadForm) -> None:
        """Something for the lead balance to show: every third of North's deals from the last
        eight weeks came in through the demo form, and the salespeople have capacities."""
        since = timezone.now() - timedelta(weeks=8)
        recent = Deal.objects.filter(
            pipeline__team__name=NORTH, created_at__gte=since, source=""
        ).values_list("pk", flat=True)
        from_form = Deal.objects.filter(pk__in=[pk for pk in recent if pk % 3 == 0])
        from_form.update(source=lead_form.source)
        LeadForm.objects.filter(pk=lead_form.pk).update(
            submission_count=from_form.count(),
            spam_count=from_form.count() // 4,
            last_submission_at=from_form.aggregate(last=Max("created_at"))["last"],
        )
        team = lead_form.pipeline.team
        manager = User.objects.filter(username="maria").first()
        for username, capacity in DEMO_CAPACITIES:
            user = User.objects.filter(username=username).first()
            if user is not None:
                RepCapacity.objects.get_or_create(
                    team=team, user=user, defaults={"open_deals": capacity, "set_by": manager}
                )

    def _seed_tiers(self) -> None:
        """Demo tier thresholds (EUR) that give the demo companies a believable spread (about
        a fifth A, two fifths B), then the recompute the nightly job would run."""
        from crm.models import Organisation
        from crm.organisation import organisation_changed, organisation_get
        from crm.services.tiers import tiers_recompute

        organisation_get()
        Organisation.objects.filter(pk=1).update(
            tier_a_threshold=Decimal(250_000), tier_b_threshold=Decimal(100_000)
        )
        organisation_changed()
        result = tiers_recompute()
        self.stdout.write(
            "Tiers: " + ", ".join(f"{tier} {count}" for tier, count in result.tiers.items())
        )

    def _flags_scan_after_bulk_load(self) -> None:
        """The first flag scan over freshly bulk-loaded deals. On PostgreSQL the planner first
        learns how big the tables have grown, and nested loops are off for this one
        transaction: with an empty flag table it otherwise anti-joins every deal against a
        sequential scan of the flags being inserted, which is quadratic (minutes at 100k
        deals; seconds this way)."""
        if connection.vendor != "postgresql":
            flags_scan()
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE pipeline_deal, pipeline_activity, pipeline_flag, "
                "pipeline_notification, pipeline_stagechange"
            )
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_nestloop = off")
            flags_scan()

    # Base demo data ---------------------------------------------------------------------------

    def _seed_base(self, *, password: str, seed: int) -> None:
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in (NORTH, SOUTH)}
        users = self._seed_users(teams=teams, password=password)
        specs = self._seed_pipelines(teams=teams)
        companies = self._seed_companies(teams=teams, users=users, seed=seed)
        self._seed_contacts(companies=companies, seed=seed)
        self._seed_targets(users=users, now=timezone.now())
        demo_pipelines = [spec.pipeline for spec in specs.values()]
        if Deal.objects.filter(pipeline__in=demo_pipelines).exists():
            self.stdout.write("Demo pipelines already have deals; base deals left as they are.")
            return
        self._seed_base_deals(specs=specs, users=users, seed=seed)
        self._seed_criterion_checks(specs=specs, seed=seed)
        seed_history(specs=specs, users=users, seed=seed)  # analytics: months of closed deals

    def _seed_users(self, *, teams: dict[str, Team], password: str) -> dict[str, User]:
        users = {}
        for username, first_name, last_name, memberships, is_superuser in USERS:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": f"{username}@{EMAIL_DOMAIN}",
                },
            )
            # Set on every run so the documented password always works.
            user.set_password(password)
            user.is_active = True
            if is_superuser:
                user.is_staff = user.is_superuser = True
            user.save()
            for team_name, role in memberships:
                Membership.objects.update_or_create(
                    user=user, team=teams[team_name], defaults={"role": role}
                )
            users[username] = user
        return users

    def _seed_pipelines(self, *, teams: dict[str, Team]) -> dict[str, PipelineSpec]:
        specs = {}
        for position, (team_name, name, stage_rows) in enumerate(PIPELINES):
            pipeline, _ = Pipeline.objects.get_or_create(
                team=teams[team_name], name=name, defaults={"position": position}
            )
            stages = []
            for stage_position, (stage_name, probability, rot_days) in enumerate(stage_rows):
                stage, _ = Stage.objects.get_or_create(
                    pipeline=pipeline,
                    name=stage_name,
                    defaults={
                        "position": stage_position,
                        "probability": probability,
                        "rot_days": rot_days,
                    },
                )
                stages.append(stage)
            stages.sort(key=lambda stage: (stage.position, stage.pk))
            self._seed_exit_criteria(pipeline=pipeline, stages=stages)
            self._seed_routines(pipeline=pipeline, stages=stages)
            specs[name] = PipelineSpec(pipeline=pipeline, stages=stages)
        return specs

    def _seed_exit_criteria(self, *, pipeline: Pipeline, stages: list[Stage]) -> None:
        """The demo stages' exit criteria, and the stage after which qualification must be
        complete; left alone when an admin has set them already."""
        for stage in stages:
            rows = EXIT_CRITERIA.get((pipeline.name, stage.name), [])
            if not rows or stage.exit_criteria.exists():
                continue
            ExitCriterion.objects.bulk_create(
                ExitCriterion(stage=stage, text=text, is_required=required, position=i)
                for i, (text, required) in enumerate(rows)
            )
        qualified = next((s for s in stages if s.name == QUALIFIED_AFTER.get(pipeline.name)), None)
        if pipeline.qualified_after_stage_id is None and qualified is not None:
            pipeline.qualified_after_stage = qualified
            pipeline.save(update_fields=["qualified_after_stage"])

    def _seed_routines(self, *, pipeline: Pipeline, stages: list[Stage]) -> None:
        """The demo stages' follow-up routines; left alone when an admin has set some."""
        for stage in stages:
            rows = ROUTINES.get((pipeline.name, stage.name), [])
            if not rows or stage.routines.exists():
                continue
            FollowUpRoutine.objects.bulk_create(
                FollowUpRoutine(
                    stage=stage, subject=subject, kind=kind, due_in_days=days, position=i
                )
                for i, (subject, kind, days) in enumerate(rows)
            )
            stage.has_routines = True
            stage.save(update_fields=["has_routines"])

    def _seed_criterion_checks(self, *, specs: dict[str, PipelineSpec], seed: int) -> None:
        """Open demo deals past a stage with exit criteria have its required events recorded
        (by their owner, when they entered their stage); most advisory ones too."""
        rng = random.Random(f"{seed}-criteria")
        pipelines = [spec.pipeline for spec in specs.values()]
        criteria = list(
            ExitCriterion.objects.filter(stage__pipeline__in=pipelines).select_related("stage")
        )
        checks = []
        for deal in Deal.objects.filter(
            pipeline__in=pipelines, status=DealStatus.OPEN
        ).select_related("stage"):
            for criterion in criteria:
                stage = criterion.stage
                if stage.pipeline_id != deal.pipeline_id or stage.position >= deal.stage.position:
                    continue
                if not criterion.is_required and rng.random() < 0.35:
                    continue
                checks.append(
                    DealCriterionCheck(
                        deal=deal,
                        criterion=criterion,
                        stage=stage,
                        text=criterion.text,
                        checked_by_id=deal.owner_id,
                        checked_at=deal.stage_entered_at,
                    )
                )
        DealCriterionCheck.objects.bulk_create(checks, batch_size=BATCH_SIZE)

    def _seed_companies(
        self, *, teams: dict[str, Team], users: dict[str, User], seed: int
    ) -> list[tuple[Company, str, bool]]:
        rng = random.Random(f"{seed}-companies")
        owners = {NORTH: [users["sven"], users["lena"]], SOUTH: [users["karl"]]}
        companies = []
        for team_name, name, domain, country, is_key_account in COMPANIES:
            owner = rng.choice(owners[team_name])
            company, _ = Company.objects.get_or_create(
                team=teams[team_name], name=name, defaults={"domain": domain, "owner": owner}
            )
            companies.append((company, country, is_key_account))
        return companies

    def _seed_contacts(self, *, companies: list[tuple[Company, str, bool]], seed: int) -> None:
        rng = random.Random(f"{seed}-contacts")
        for company, country, _ in companies:
            people = set()
            for _ in range(rng.randint(1, 3)):
                people.add((rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])))
            titles = rng.sample(JOB_TITLES, len(people))
            for (first, last), title in zip(sorted(people), titles, strict=True):
                name = f"{first} {last}"
                Contact.objects.get_or_create(
                    company=company,
                    name=name,
                    defaults={
                        "email": f"{_ascii(name)}@{company.domain}",
                        "phone": _phone(rng, country),
                        "title": title,
                    },
                )

    def _seed_base_deals(
        self, *, specs: dict[str, PipelineSpec], users: dict[str, User], seed: int
    ) -> None:
        rng = random.Random(f"{seed}-deals")
        now = timezone.now()
        today = timezone.localdate(now)
        lost_reasons = list(LostReason.objects.filter(is_active=True))
        if not lost_reasons:
            lost_reasons = [LostReason.objects.get_or_create(name="No decision / went quiet")[0]]
        companies = list(
            Company.objects.filter(
                team__name__in=[NORTH, SOUTH], name__in=[row[1] for row in COMPANIES]
            ).select_related("team")
        )
        country = {name: country for _, name, _, country, _ in COMPANIES}
        key_accounts = {name for _, name, _, _, is_key in COMPANIES if is_key}
        contacts: dict[int, list[int]] = {}
        for contact_id, company_id in Contact.objects.filter(company__in=companies).values_list(
            "pk", "company_id"
        ):
            contacts.setdefault(company_id, []).append(contact_id)

        north = [c for c in companies if c.team.name == NORTH]
        plans = [
            # pipeline, deal count, companies, owners (None = unassigned), titles, EUR range/500
            (
                specs[NEW_BUSINESS],
                60,
                north,
                [users["sven"]] * 4 + [users["lena"]] * 4 + [users["maria"], None],
                DEAL_TITLES,
                (8, 240),
            ),
            (
                specs[KEY_ACCOUNTS],
                20,
                [c for c in north if c.name in key_accounts],
                [users["maria"]] * 2 + [users["sven"], users["lena"]],
                KEY_ACCOUNT_TITLES,
                (100, 1600),
            ),
            (
                specs[SALES_SOUTH],
                25,
                [c for c in companies if c.team.name == SOUTH],
                [users["karl"]] * 5 + [None],
                DEAL_TITLES,
                (10, 300),
            ),
        ]

        deals: list[Deal] = []
        histories: list[list[tuple[Stage | None, Stage, datetime, User | None]]] = []
        activities: list[Activity] = []
        # Who plans steps for unassigned deals and sometimes hands a step to a colleague.
        helpers = {NORTH: [users["maria"], users["sven"]], SOUTH: [users["karl"]]}
        next_positions: dict[int, dict[int, int]] = {}

        def add_deal(
            rng: random.Random,
            spec: PipelineSpec,
            titles: list[str],
            value_range: tuple[int, int],
            company: Company,
            currency: str,
            owner: User | None,
            index: int,
            status: str,
            history: list[tuple[Stage | None, Stage, datetime, User | None]],
            closed_at: datetime | None,
        ) -> None:
            stage = spec.stages[index]
            next_position = next_positions[spec.pipeline.pk]
            next_position[stage.pk] += POSITION_GAP
            if closed_at is not None:
                expected = timezone.localdate(closed_at) + timedelta(days=rng.randint(-10, 20))
            else:
                expected = today + timedelta(days=rng.randint(-30, 180))
            deal = Deal(
                title=_title(rng, titles, now),
                company=company,
                contact_id=rng.choice(contacts[company.pk]) if company.pk in contacts else None,
                owner=owner,
                pipeline=spec.pipeline,
                stage=stage,
                position=next_position[stage.pk],
                value=_value(rng, currency, *value_range),
                currency=currency,
                expected_close_date=expected,
                status=status,
                need_confirmed=index >= 2 or (index == 1 and rng.random() < 0.5),
                timeline_confirmed=index >= 3 and rng.random() < 0.8,
                decision_maker_known=index >= 3 and rng.random() < 0.7,
                stage_entered_at=history[-1][2],
                closed_at=closed_at,
                created_at=history[0][2],
                version=len(history) + (1 if closed_at or status == DealStatus.PAUSED else 0),
            )
            if status == DealStatus.LOST:
                deal.lost_reason = rng.choice(lost_reasons)
                deal.lost_note = rng.choice(LOST_NOTES)
                deal.lost_from_stage = stage
            elif status == DealStatus.PAUSED:
                deal.paused_until = today + timedelta(days=rng.randint(10, 75))
            # A random stream per deal, apart from the deals' own: the deals stay what they
            # were before activities, and one deal's plan never shifts another's.
            activities.extend(
                self._plan_activities(
                    rng=random.Random(f"{seed}-activities-{len(deals)}"),
                    now=now,
                    deal=deal,
                    phase=min(2, index * 3 // len(spec.stages)),
                    helpers=helpers[SOUTH if spec is specs[SALES_SOUTH] else NORTH],
                )
            )
            deals.append(deal)
            histories.append(history)

        for spec, count, pool, owners, titles, value_range in plans:
            statuses = (
                [DealStatus.WON] * round(count * 0.12)
                + [DealStatus.LOST] * round(count * 0.12)
                + [DealStatus.PAUSED] * max(1, round(count * 0.04))
            )
            statuses += [DealStatus.OPEN] * (count - len(statuses))
            rng.shuffle(statuses)
            next_positions[spec.pipeline.pk] = {stage.pk: 0 for stage in spec.stages}
            last = len(spec.stages) - 1
            # Open columns thin out towards the end of the pipeline.
            open_weights = [last + 2 - i for i in range(last + 1)]
            for status in statuses:
                company = rng.choice(pool)
                currency = CURRENCY_OF_COUNTRY[country[company.name]]
                if rng.random() < 0.1:
                    currency = Currency.EUR
                owner = rng.choice(owners)
                if status == DealStatus.WON:
                    index = last
                elif status == DealStatus.LOST:
                    index = rng.choices(range(last + 1), weights=open_weights)[0]
                elif status == DealStatus.PAUSED:
                    index = rng.randint(1, last - 1)
                else:
                    index = rng.choices(range(last + 1), weights=open_weights)[0]
                history, closed_at = self._history(
                    rng=rng, now=now, stages=spec.stages[: index + 1], status=status, owner=owner
                )
                add_deal(
                    rng,
                    spec,
                    titles,
                    value_range,
                    company,
                    currency,
                    owner,
                    index,
                    status,
                    history,
                    closed_at,
                )

        # Outcomes: every rep won (and lost) deals in each of the last months, a few closed
        # since this week began, and a couple of leads came in since then, so the accuracy
        # panel and "what changed since last week" have something to say, before and after
        # this week's snapshot is taken (it holds the pipeline as at the week's start). A
        # stream of its own: the deals above stay what they were.
        rng = random.Random(f"{seed}-outcomes")
        week_start = _local_midnight(monday(today))
        for spec, _count, pool, owners, titles, value_range in plans:
            won_range, lost_range = OUTCOMES[spec.pipeline.name]
            reps = list(dict.fromkeys(owner for owner in owners if owner is not None))
            last = len(spec.stages) - 1
            open_weights = [last + 2 - i for i in range(last + 1)]
            windows = []
            month = period_start(today, "month")
            # Up to last week's snapshot; the few since then come below.
            cutoff = _local_midnight(monday(today) - timedelta(weeks=1))
            for months_ago in range(OUTCOME_MONTHS, -1, -1):
                start = _local_midnight(period_add(month, "month", -months_ago))
                end = min(_local_midnight(period_add(month, "month", 1 - months_ago)), cutoff)
                end -= timedelta(hours=2)
                if end - start > timedelta(days=1):
                    windows.append((start, end, won_range, lost_range))
            # Since this week began (after every snapshot, this week's included).
            windows.append((week_start, now, (1, 1), (1, 1)))
            for start, end, (won_low, won_high), (lost_low, lost_high) in windows:
                # Key accounts close rarely: one rep's deals a month.
                window_reps = [rng.choice(reps)] if spec is specs[KEY_ACCOUNTS] else reps
                for owner in window_reps:
                    closes = [DealStatus.WON] * rng.randint(won_low, won_high)
                    closes += [DealStatus.LOST] * rng.randint(lost_low, lost_high)
                    if start == week_start:
                        # One rep won one, the next lost one.
                        closes = closes[reps.index(owner) : reps.index(owner) + 1]
                    elif end - start < timedelta(days=25):
                        # Part of a month: part of its closings.
                        share = (end - start) / timedelta(days=30)
                        closes = [status for status in closes if rng.random() < share]
                    for status in closes:
                        company = rng.choice(pool)
                        currency = CURRENCY_OF_COUNTRY[country[company.name]]
                        if rng.random() < 0.1:
                            currency = Currency.EUR
                        if status == DealStatus.WON:
                            index = last
                        else:
                            index = rng.choices(range(last + 1), weights=open_weights)[0]
                        closed_at = _between(rng, start, end)
                        history = self._closed_history(
                            rng=rng,
                            stages=spec.stages[: index + 1],
                            closed_at=closed_at,
                            owner=owner,
                        )
                        add_deal(
                            rng,
                            spec,
                            titles,
                            value_range,
                            company,
                            currency,
                            owner,
                            index,
                            status,
                            history,
                            closed_at,
                        )
            if spec.pipeline.name != KEY_ACCOUNTS:
                # A fresh lead, created this week: "new" in the changes.
                owner = reps[-1]
                company = rng.choice(pool)
                created_at = _between(rng, week_start, now).replace(microsecond=0)
                add_deal(
                    rng,
                    spec,
                    titles,
                    value_range,
                    company,
                    CURRENCY_OF_COUNTRY[country[company.name]],
                    owner,
                    0,
                    DealStatus.OPEN,
                    [(None, spec.stages[0], created_at, owner)],
                    None,
                )

        Deal.objects.bulk_create(deals, batch_size=BATCH_SIZE)
        StageChange.objects.bulk_create(
            [
                StageChange(deal=deal, from_stage=from_stage, to_stage=to_stage, user=user, at=at)
                for deal, history in zip(deals, histories, strict=True)
                for from_stage, to_stage, at, user in history
            ],
            batch_size=BATCH_SIZE,
        )
        Activity.objects.bulk_create(activities, batch_size=BATCH_SIZE)
        self._keep_next_steps(deals)
        self._seed_notifications(deals=deals, activities=activities, users=users, now=now)
        self.stdout.write(
            f"Created {len(deals)} demo deals with their stage history and "
            f"{len(activities)} activities."
        )
        self._seed_forecast_history(seed=seed, now=now, deals=deals, histories=histories)

    # Forecast history: past weekly snapshots and sales targets --------------------------------

    def _seed_forecast_history(
        self,
        *,
        seed: int,
        now: datetime,
        deals: list[Deal],
        histories: list[list[tuple[Stage | None, Stage, datetime, User | None]]],
    ) -> None:
        """Weekly snapshots for the past HISTORY_WEEKS Mondays (not this week's: the beat or
        `manage.py forecast_snapshot` takes that one), as `forecast_snapshot_take` would have
        written them: every deal open at Monday 00:00 (created, not yet closed or paused) in the
        stage it was in then, at that week's rates, with its close date and value as they stood.

        Close dates slipped and values changed over time for some deals, so the trend moves;
        a few open deals slipped into another month or changed value since this week began, so
        "what changed since last week" has more than moves, wins and losses to show. Each of
        those changes is kept as the services keep it (a DealRevision: the deal as it was
        before), so this week's snapshot, taken by the job whenever it runs, rebuilds the
        pipeline as it stood at the week's start with them.
        """
        this_week = monday(timezone.localdate(now))
        if ForecastSnapshotRun.objects.filter(week__lt=this_week).exists():
            self.stdout.write("Past forecast snapshots exist already; history left as it is.")
            return
        rng = random.Random(f"{seed}-forecast-history")
        weeks = [this_week - timedelta(weeks=k) for k in range(HISTORY_WEEKS, 0, -1)]
        last_monday = _local_midnight(weeks[-1])
        week_start = _local_midnight(this_week)

        # Per deal: close-date slips (when, days pushed) and an earlier value (until when).
        slips: list[list[tuple[datetime, int]]] = []
        earlier_values: list[tuple[datetime, Decimal] | None] = []
        for deal in deals:
            end = deal.closed_at or deal.paused_at or now
            # Walking back from today's date: each slip pushed a date that was a few days
            # away when the rep pushed it.
            events = []
            if rng.random() < 0.4:
                day = deal.expected_close_date
                for _ in range(rng.randint(1, 3)):
                    days = rng.choice(SLIP_DAYS)
                    day -= timedelta(days=days)
                    at = _local_midnight(day) - timedelta(days=rng.uniform(1, 7))
                    if not deal.created_at < at < end:
                        break
                    events.append((at, days))
            slips.append(events)
            change = None
            if rng.random() < 0.25:
                factor = rng.choice(VALUE_FACTORS)
                change = (_between(rng, deal.created_at, end), _rounded(deal.value * factor))
            earlier_values.append(change)
        # Since this week began: a few open deals slipped into the next month, a few changed
        # value.
        candidates = [
            i
            for i, deal in enumerate(deals)
            if deal.status == DealStatus.OPEN
            and deal.created_at < last_monday
            and histories[i][-1][2] < last_monday
            and deal.expected_close_date > timezone.localdate(now)
        ]
        forced = rng.sample(candidates, min(8, len(candidates)))
        for i in forced[:4]:
            at = _between(rng, week_start, now)
            days = deals[i].expected_close_date.day + rng.randint(2, 12)
            slips[i] = [(t, d) for t, d in slips[i] if t <= last_monday] + [(at, days)]
        for i in forced[4:]:
            deal = deals[i]
            at = _between(rng, week_start, now)
            slips[i] = [(t, d) for t, d in slips[i] if t <= last_monday]
            earlier_values[i] = (at, _rounded(deal.value * rng.choice(VALUE_FACTORS)))
        DealRevision.objects.bulk_create(
            (
                revision
                for deal, deal_slips, earlier in zip(deals, slips, earlier_values, strict=True)
                for revision in _revisions(deal, deal_slips, earlier)
            ),
            batch_size=BATCH_SIZE,
        )

        runs = ForecastSnapshotRun.objects.bulk_create(
            [ForecastSnapshotRun(week=week, taken_at=_local_midnight(week)) for week in weeks]
        )
        lines: list[ForecastSnapshotLine] = []
        totals: list[ForecastSnapshot] = []
        for run in runs:
            taken_at = run.taken_at
            rates = rates_on(run.week)
            run_lines = []
            for deal, history, deal_slips, earlier in zip(
                deals, histories, slips, earlier_values, strict=True
            ):
                if deal.created_at > taken_at:
                    continue
                if deal.closed_at is not None and deal.closed_at <= taken_at:
                    continue
                if deal.paused_at is not None and deal.paused_at <= taken_at:
                    continue
                stage = next(s for _, s, at, _ in reversed(history) if at <= taken_at)
                value = deal.value
                if earlier is not None and earlier[0] > taken_at:
                    value = earlier[1]
                pushed = sum(days for at, days in deal_slips if at > taken_at)
                expected = deal.expected_close_date - timedelta(days=pushed)
                in_reporting = value * rates[deal.currency].rate
                run_lines.append(
                    ForecastSnapshotLine(
                        run=run,
                        deal_id=deal.pk,
                        pipeline_id=deal.pipeline_id,
                        stage_id=stage.pk,
                        owner_id=deal.owner_id,
                        status=DealStatus.OPEN,
                        expected_close_date=expected,
                        value=round_cents(in_reporting),
                        weighted=round_cents(in_reporting * stage.probability / Decimal(100)),
                    )
                )
            run.deal_count = len(run_lines)
            lines += run_lines
            # The totals, grouped from the lines exactly as forecast_snapshot_take groups them.
            for kind in KINDS:
                groups: dict[tuple, list] = {}
                for line in run_lines:
                    key = (
                        line.pipeline_id,
                        line.owner_id,
                        line.stage_id,
                        period_start(line.expected_close_date, kind),
                    )
                    group = groups.setdefault(key, [0, Decimal(0), Decimal(0)])
                    group[0] += 1
                    group[1] += line.value
                    group[2] += line.weighted
                for (pipeline_id, owner_id, stage_id, start), (n, v, w) in groups.items():
                    totals.append(
                        ForecastSnapshot(
                            run=run,
                            week=run.week,
                            pipeline_id=pipeline_id,
                            owner_id=owner_id,
                            stage_id=stage_id,
                            period_kind=kind,
                            period_start=start,
                            count=n,
                            value=v,
                            weighted=w,
                        )
                    )
        ForecastSnapshotRun.objects.bulk_update(runs, ["deal_count"])
        ForecastSnapshotLine.objects.bulk_create(lines, batch_size=BATCH_SIZE)
        ForecastSnapshot.objects.bulk_create(totals, batch_size=BATCH_SIZE)
        self.stdout.write(
            f"Created {len(runs)} weekly forecast snapshots ({weeks[0]} to {weeks[-1]}): "
            f"{len(lines)} deal lines, {len(totals)} totals."
        )

    def _seed_targets(self, *, users: dict[str, User], now: datetime) -> None:
        """Monthly targets for the past and next TARGET_MONTHS months and the quarters around
        them, for every rep and the manager; rows that exist (a manager's own) are kept.
        Amounts differ per rep, so coverage differs: Sven's target is low for his pipeline
        (over-covered), Lena's high (under-covered)."""
        today = timezone.localdate(now)
        eur = rates_on(today)[Currency.EUR].rate  # reporting units per euro
        first = period_add(period_start(today, "month"), "month", -TARGET_MONTHS)
        months = [period_add(first, "month", i) for i in range(2 * TARGET_MONTHS + 1)]
        quarters = sorted({period_start(month, "quarter") for month in months})
        wanted: dict[tuple[int, str, date], tuple[Decimal, User]] = {}
        for username, monthly_eur in MONTHLY_TARGETS_EUR.items():
            user = users[username]
            set_by = users["admin" if username == "maria" else "maria"]
            for quarter in quarters:
                quarter_total = Decimal(0)
                for i in range(3):
                    month = period_add(quarter, "month", i)
                    # The last month of a quarter carries a little more.
                    amount = Decimal(monthly_eur * (1.15 if i == 2 else 0.95)) * eur
                    amount = Decimal(round(amount / 1000) * 1000)
                    quarter_total += amount
                    if month in months:
                        wanted[(user.pk, "month", month)] = (amount, set_by)
                wanted[(user.pk, "quarter", quarter)] = (quarter_total, set_by)
        existing = set(
            SalesTarget.objects.filter(
                user__in=[users[name] for name in MONTHLY_TARGETS_EUR]
            ).values_list("user_id", "period_kind", "period_start")
        )
        SalesTarget.objects.bulk_create(
            [
                SalesTarget(
                    user_id=user_id, period_kind=kind, period_start=start, amount=amount, set_by=by
                )
                for (user_id, kind, start), (amount, by) in wanted.items()
                if (user_id, kind, start) not in existing
            ]
        )

    def _plan_activities(
        self,
        *,
        rng: random.Random,
        now: datetime,
        deal: Deal,
        phase: int,
        helpers: list[User],
    ) -> list[Activity]:
        """The deal's activities (unsaved): one or two done ones in its history and, for most
        open deals, an open next step (due today, later this week, overdue by a few days, or
        in the next weeks). Sets the deal's movement fields to match, and its pause details.

        Most open deals moved recently enough to be fresh; a few (STALE_SHARE) have had no
        movement for longer than their stage allows, and NO_NEXT_STEP_SHARE have no next step.
        """
        today = timezone.localdate(now)
        rot = timedelta(days=deal.stage.rot_days)
        entered = deal.stage_entered_at
        owner = deal.owner
        responsible = owner or helpers[0]
        # Every decision draws its number up front, so the plan does not depend on which
        # branch an earlier decision took.
        stale_roll, fresh_roll, second_roll, step_roll, due_roll, extra_roll, helper_roll = (
            rng.random() for _ in range(7)
        )
        # Movement stops when the deal closes or is paused.
        if deal.status == DealStatus.PAUSED:
            deal.paused_at = entered + (now - entered) * rng.uniform(0.3, 0.9)
            deal.pause_reason = rng.choice(PAUSE_REASONS)
        end = deal.closed_at or deal.paused_at or now
        is_open = deal.status == DealStatus.OPEN
        # About half the open deals entered their stage long enough ago to be made stale.
        can_be_stale = is_open and now - entered > rot + timedelta(days=3)
        if can_be_stale and stale_roll < 2 * STALE_SHARE:
            # Last touched before the stage's rot days ran out: red on the board.
            latest = _between(rng, deal.created_at, now - rot - timedelta(days=2))
        elif is_open and now - entered > rot * 0.6:
            latest = now - timedelta(days=rng.uniform(0.2, deal.stage.rot_days * 0.5))
        elif is_open and fresh_roll < 0.2:
            latest = None  # a fresh lead nobody has spoken to yet
        else:
            latest = _between(rng, deal.created_at, end - timedelta(hours=2))
        done_times = []
        if latest is not None:
            done_times.append(latest)
            if second_roll < 0.5:
                done_times.append(_between(rng, deal.created_at, latest))
        activities = []
        for done_at in sorted(done_times):
            kind, subject = rng.choice(ACTIVITIES[max(0, phase - rng.randint(0, 1))])
            activities.append(
                Activity(
                    deal=deal,
                    kind=kind,
                    subject=subject,
                    due_date=timezone.localdate(done_at),
                    due_time=_clock(rng) if kind != ActivityKind.TASK else None,
                    assignee=responsible,
                    note=rng.choice(DONE_NOTES),
                    done_at=done_at,
                    created_by=responsible,
                    created_at=max(deal.created_at, done_at - timedelta(days=rng.uniform(1, 6))),
                )
            )
        deal.last_movement_at = max([entered, *done_times])
        deal.rots_at = deal.last_movement_at + rot

        if deal.status == DealStatus.PAUSED:
            activities.append(
                Activity(
                    deal=deal,
                    kind=ActivityKind.CALL,
                    subject=CHECK_BACK,
                    due_date=deal.paused_until,
                    assignee=responsible,
                    created_by=responsible,
                    created_at=deal.paused_at,
                )
            )
        if not is_open or step_roll < NO_NEXT_STEP_SHARE:
            return activities
        if due_roll < 0.3:
            due = today
        elif due_roll < 0.65:
            due = today + timedelta(days=1 + int(due_roll * 100) % 4)
        elif due_roll < 0.8:
            due = today - timedelta(days=1 + int(due_roll * 100) % 5)
        else:
            due = today + timedelta(days=7 + int(due_roll * 100) % 15)
        assignee = responsible
        planner = responsible
        if owner is not None and helper_roll < 0.15:
            # A colleague takes this step (the card shows who, since it is not the owner).
            others = [user for user in helpers if user != owner]
            if others:
                assignee, planner = others[-1], helpers[0]
        steps = [due]
        if extra_roll < 0.2:
            steps.append(due + timedelta(days=3 + int(extra_roll * 100) % 12))
        for step_due in steps:
            kind, subject = rng.choice(ACTIVITIES[phase])
            activities.append(
                Activity(
                    deal=deal,
                    kind=kind,
                    subject=subject,
                    due_date=step_due,
                    due_time=_clock(rng) if kind != ActivityKind.TASK else None,
                    assignee=assignee,
                    created_by=planner,
                    created_at=max(deal.last_movement_at, now - timedelta(days=rng.uniform(1, 8))),
                )
            )
            assignee = responsible
        return activities

    def _keep_next_steps(self, deals: list[Deal]) -> None:
        """Copy each open or paused deal's earliest open activity onto the deal, as the
        services do (`next_step`, its subject, due date and assignee)."""
        earliest: dict[int, Activity] = {}
        upcoming = (
            Activity.objects.filter(deal__in=[deal.pk for deal in deals], done_at__isnull=True)
            .order_by("deal_id", "due_date", F("due_time").asc(nulls_last=True), "pk")
            .only("pk", "deal_id", "subject", "due_date", "assignee_id")
        )
        for activity in upcoming:
            earliest.setdefault(activity.deal_id, activity)
        changed = []
        for deal in deals:
            step = earliest.get(deal.pk)
            if step is None:
                continue
            deal.next_step_id = step.pk
            deal.next_step_subject = step.subject
            deal.next_step_due = step.due_date
            deal.next_step_assignee_id = step.assignee_id
            changed.append(deal)
        Deal.objects.bulk_update(
            changed,
            ["next_step", "next_step_subject", "next_step_due", "next_step_assignee"],
            batch_size=BATCH_SIZE,
        )

    def _seed_notifications(
        self,
        *,
        deals: list[Deal],
        activities: list[Activity],
        users: dict[str, User],
        now: datetime,
    ) -> None:
        """A few deals handed over and steps planned for someone else, as the services would
        have announced them; the older ones already read. (Flag notifications come from the
        scan at the end.)"""
        notifications = [
            Notification(
                user_id=activity.assignee_id,
                kind=NotificationKind.ACTIVITY_ASSIGNED,
                deal_id=activity.deal_id,
                actor_id=activity.created_by_id,
                created_at=activity.created_at,
            )
            for activity in activities
            if activity.done_at is None
            and activity.assignee_id
            and activity.assignee_id != activity.created_by_id
        ]
        handovers = [
            (users["maria"], users["sven"], timedelta(hours=3)),
            (users["maria"], users["sven"], timedelta(days=2, hours=5)),
            (users["maria"], users["lena"], timedelta(days=1, hours=2)),
            (users["admin"], users["karl"], timedelta(hours=20)),
        ]
        taken: set[int] = set()
        for actor, user, ago in handovers:
            deal = next(
                (
                    d
                    for d in deals
                    if d.owner_id == user.pk and d.status == DealStatus.OPEN and d.pk not in taken
                ),
                None,
            )
            if deal is None:
                continue
            taken.add(deal.pk)
            notifications.append(
                Notification(
                    user=user,
                    kind=NotificationKind.DEAL_ASSIGNED,
                    deal=deal,
                    actor=actor,
                    created_at=now - ago,
                )
            )
        for notification in notifications:
            if now - notification.created_at > timedelta(days=1):
                notification.read_at = notification.created_at + timedelta(hours=2)
        Notification.objects.bulk_create(notifications, batch_size=BATCH_SIZE)

    def _history(
        self,
        *,
        rng: random.Random,
        now: datetime,
        stages: list[Stage],
        status: str,
        owner: User | None,
    ) -> tuple[list[tuple[Stage | None, Stage, datetime, User | None]], datetime | None]:
        """Stage changes from creation through `stages` in order, and the closing time.

        Times increase strictly; the deal was created months ago for late stages and recently
        for most leads, so the board shows a mix of fresh and stale cards.
        """
        moves = len(stages) - 1
        if moves == 0 and status == DealStatus.OPEN:
            age_days = rng.uniform(0.5, 30)
        else:
            age_days = rng.uniform(10 + 6 * moves, 120 + 25 * moves)
        created_at = now - timedelta(days=age_days)
        created_at = created_at.replace(second=0, microsecond=0)
        closed_at = None
        if status in (DealStatus.WON, DealStatus.LOST):
            # Spread over the deal's later life, at least a few days ago: the closings since
            # last week's snapshot are planned with the outcomes (see _seed_base_deals).
            closed_at = now - timedelta(
                days=rng.uniform(0.5, age_days * 0.5) + min(7.0, age_days * 0.3)
            )
            last_move = closed_at - timedelta(days=rng.uniform(0.2, min(20, age_days * 0.1)))
        else:
            last_move = now - timedelta(days=rng.uniform(0.2, min(40, age_days * 0.4)))
        span = (last_move - created_at).total_seconds()
        offsets = sorted(rng.uniform(0.05, 0.95) * span for _ in range(moves - 1))
        times = [created_at] + [created_at + timedelta(seconds=o) for o in offsets]
        if moves:
            times.append(last_move)
        history: list[tuple[Stage | None, Stage, datetime, User | None]] = []
        previous = None
        for stage, at in zip(stages, times, strict=True):
            history.append((previous, stage, at, owner))
            previous = stage
        return history, closed_at

    def _closed_history(
        self,
        *,
        rng: random.Random,
        stages: list[Stage],
        closed_at: datetime,
        owner: User | None,
    ) -> list[tuple[Stage | None, Stage, datetime, User | None]]:
        """Stage changes through `stages` in order for a deal that closed at `closed_at`: created
        one to seven months before, last moved shortly before it closed."""
        moves = len(stages) - 1
        created_at = closed_at - timedelta(days=rng.uniform(20 + 8 * moves, 50 + 25 * moves))
        created_at = created_at.replace(second=0, microsecond=0)
        age_days = (closed_at - created_at).total_seconds() / 86400
        last_move = closed_at - timedelta(days=rng.uniform(0.2, min(20, age_days * 0.2)))
        span = (last_move - created_at).total_seconds()
        offsets = sorted(rng.uniform(0.05, 0.95) * span for _ in range(moves - 1))
        times = [created_at] + [created_at + timedelta(seconds=o) for o in offsets]
        if moves:
            times.append(last_move)
        history: list[tuple[Stage | None, Stage, datetime, User | None]] = []
        previous = None
        for stage, at in zip(stages, times, strict=True):
            history.append((previous, stage, at, owner))
            previous = stage
        return history

    # Extra deals for load testing --------------------------------------------------------------

    def _add_extra_deals(self, *, count: int, seed: int) -> None:
        """Append `count` open deals to the bottom of North's "New business" columns."""
        started = time.monotonic()
        rng = random.Random(f"{seed}-extra-{count}")
        now = timezone.now()
        today = timezone.localdate(now)
        pipeline = Pipeline.objects.get(team__name=NORTH, name=NEW_BUSINESS)
        owner_ids = list(
            User.objects.filter(username__in=["sven", "lena", "maria"])
            .order_by("username")
            .values_list("pk", flat=True)
        )
        owner_choices = owner_ids * 3 + [None]
        contacts: dict[int, list[int]] = {}
        for contact_id, company_id in Contact.objects.filter(
            company__team=pipeline.team_id
        ).values_list("pk", "company_id"):
            contacts.setdefault(company_id, []).append(contact_id)
        company_ids = list(
            Company.objects.filter(team=pipeline.team_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not company_ids:
            raise CommandError("North has no companies to attach deals to.")
        currencies = [Currency.DKK, Currency.SEK, Currency.NOK, Currency.EUR]

        with transaction.atomic():
            # Lock the columns (pk order) before reading their bottom position, so a
            # concurrent move cannot take a place we are about to fill.
            stages = list(
                Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("pk")
            )
            stages.sort(key=lambda stage: (stage.position, stage.pk))
            bottom = dict(
                Deal.objects.filter(stage__in=stages)
                .values("stage")
                .annotate(bottom=Max("position"))
                .values_list("stage", "bottom")
            )
            next_position = {stage.pk: bottom.get(stage.pk) or 0 for stage in stages}
            stage_weights = [len(stages) + 1 - i for i in range(len(stages))]
            written = 0
            while written < count:
                size = min(BATCH_SIZE, count - written)
                deals = []
                for _ in range(size):
                    stage = rng.choices(stages, weights=stage_weights)[0]
                    next_position[stage.pk] += POSITION_GAP
                    company_id = rng.choice(company_ids)
                    company_contacts = contacts.get(company_id)
                    currency = rng.choice(currencies)
                    created_at = now - timedelta(seconds=rng.randint(600, 90 * 86400))
                    deals.append(
                        Deal(
                            title=_title(rng, DEAL_TITLES, now),
                            company_id=company_id,
                            contact_id=rng.choice(company_contacts) if company_contacts else None,
                            owner_id=rng.choice(owner_choices),
                            pipeline_id=pipeline.pk,
                            stage_id=stage.pk,
                            position=next_position[stage.pk],
                            value=_value(rng, currency, 8, 240),
                            currency=currency,
                            expected_close_date=today + timedelta(days=rng.randint(-30, 180)),
                            status=DealStatus.OPEN,
                            stage_entered_at=created_at,
                            created_at=created_at,
                            last_movement_at=created_at,
                            rots_at=created_at + timedelta(days=stage.rot_days),
                        )
                    )
                Deal.objects.bulk_create(deals, batch_size=BATCH_SIZE)
                StageChange.objects.bulk_create(
                    [
                        StageChange(
                            deal_id=deal.pk,
                            from_stage_id=None,
                            to_stage_id=deal.stage_id,
                            user_id=deal.owner_id,
                            at=deal.created_at,
                        )
                        for deal in deals
                    ],
                    batch_size=BATCH_SIZE,
                )
                written += size
                self.stdout.write(f"  {written}/{count} extra deals written")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Added {count} open deals to {pipeline.team.name} / {pipeline.name} "
            f"in {elapsed:.1f} s."
        )

    def _print_summary(self, *, password: str) -> None:
        self.stdout.write(
            f"Demo data: {Team.objects.count()} teams, {User.objects.count()} users, "
            f"{Pipeline.objects.count()} pipelines, {Stage.objects.count()} stages, "
            f"{Company.objects.count()} companies, {Contact.objects.count()} contacts, "
            f"{Deal.objects.count()} deals, {StageChange.objects.count()} stage changes, "
            f"{Activity.objects.count()} activities, "
            f"{Flag.objects.filter(resolved_at__isnull=True).count()} open flags, "
            f"{Notification.objects.count()} notifications."
        )
        self.stdout.write(f"Logins (password for all: {password!r}):")
        for username, first_name, last_name, memberships, is_superuser in USERS:
            roles = ", ".join(f"{role.label} in {team}" for team, role in memberships)
            if is_superuser:
                roles += "; superuser, Django admin"
            self.stdout.write(f"  {username:<6} {first_name} {last_name} ({roles})")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
