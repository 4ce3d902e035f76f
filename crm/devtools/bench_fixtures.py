"""The benchmark's data: the board a real team has (seed_demo's shape) grown to 1k, 10k and
100k open deals, the flag scan's 1M deals, and how to remove them again. Set-based SQL."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.management.base import CommandError
from django.db import connection, models, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.models import Company
from pipeline.models import (
    Deal,
    DealStatus,
    Flag,
    Notification,
    NotificationKind,
    Pipeline,
    Stage,
    StageTotal,
)
from pipeline.services import POSITION_GAP, stage_totals_rebuild

TEAM_NAME = "Bench"


USERNAME = "bench"


OTHER_USERNAMES = ["bench_ola", "bench_kari"]


PIPELINE_NAME = "Bench pipeline"


STAGES = [
    ("Lead in", 10),
    ("Qualified", 20),
    ("Discovery done", 35),
    ("Proposal sent", 50),
    ("Decision maker met", 65),
    ("Negotiation", 80),
]


COMPANY_COUNT = 200


CURRENCIES = ["EUR", "DKK", "SEK", "NOK"]


TITLES = [
    "Forklift telematics licences",
    "Warehouse WMS rollout",
    "Fleet tracking for trucks",
    "Cold-chain sensor kit",
    "Route planning licences",
    "Yard management pilot",
    "Dock scheduling module",
    "Handheld scanner refresh",
    "ERP integration package",
    "Driver app rollout",
]


@dataclass
class BenchFixture:
    team: Team
    user: User
    others: list[User]
    pipeline: Pipeline
    stages: list[Stage]


def _ensure_base() -> BenchFixture:
    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    user, created = User.objects.get_or_create(
        username=USERNAME, defaults={"first_name": "Bench", "last_name": "Seller"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.update_or_create(user=user, team=team, defaults={"role": Role.SALESPERSON})
    others = []
    for username in OTHER_USERNAMES:
        other, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": username.split("_")[1].title(), "last_name": "Bench"},
        )
        if created:
            other.set_unusable_password()
            other.save(update_fields=["password"])
        Membership.objects.get_or_create(user=other, team=team, defaults={"role": Role.SALESPERSON})
        others.append(other)
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name=PIPELINE_NAME, defaults={"position": 1000}
    )
    stages = []
    for position, (name, probability) in enumerate(STAGES):
        stage, _ = Stage.objects.get_or_create(
            pipeline=pipeline,
            name=name,
            defaults={"position": position, "probability": probability},
        )
        stages.append(stage)
    stages.sort(key=lambda s: (s.position, s.pk))
    existing = Company.objects.filter(team=team).count()
    if existing < COMPANY_COUNT:
        Company.objects.bulk_create(
            [
                Company(
                    team=team,
                    name=f"Bench company {i:03d}",
                    domain=f"bench-company-{i:03d}.example",
                    owner=user if i % 3 else None,
                )
                for i in range(existing + 1, COMPANY_COUNT + 1)
            ]
        )
    return BenchFixture(team=team, user=user, others=others, pipeline=pipeline, stages=stages)


def _stage_targets(total: int, stages: list[Stage]) -> dict[int, int]:
    base, extra = divmod(total, len(stages))
    return {s.pk: base + (1 if i < extra else 0) for i, s in enumerate(stages)}


_INSERT_SQL = """
WITH new AS (
    INSERT INTO pipeline_deal (
        title, value, currency, status, position, version, stage_entered_at, created_at,
        updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
        pipeline_id, stage_id, owner_id, company_id, expected_close_date,
        last_movement_at, rots_at, next_step_subject, pause_reason
    )
    SELECT
        (%(titles)s::text[])[1 + (%(seq)s + g) %% %(n_titles)s] || ' #' || (%(seq)s + g),
        (1 + ((%(seq)s + g) * 7919) %% 480) * 250.00,
        (%(currencies)s::text[])[1 + (%(seq)s + g) %% %(n_currencies)s],
        'open',
        %(start)s + g * %(gap)s,
        1,
        entered,
        entered - make_interval(days => 30),
        entered - make_interval(days => 30),  -- updated_at: last written when created
        false, false, false, '',
        %(pipeline)s,
        %(stage)s,
        (%(owners)s::bigint[])[1 + (%(seq)s + g) %% %(n_owners)s],
        (%(companies)s::bigint[])[1 + ((%(seq)s + g) * 31) %% %(n_companies)s],
        current_date + (((%(seq)s + g) * 13) %% 240 - 45),
        entered,
        entered + make_interval(days => %(rot_days)s),
        '', ''
    FROM generate_series(1, %(count)s) AS g,
        LATERAL (
            SELECT now() - make_interval(mins => ((%(seq)s + g) * 37) %% (60 * 24 * 60))
        ) AS t (entered)
    RETURNING id, stage_id, owner_id, created_at
)
INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)
SELECT id, NULL, stage_id, owner_id, created_at FROM new
"""


def build_bench_fixture(total: int, *, log=None) -> BenchFixture:
    """Create the bench fixture (idempotent) and set its pipeline to exactly `total` open
    deals, spread evenly over the six stages, each with one StageChange. Returns the fixture.

    Needs PostgreSQL (`generate_series`, arrays)."""
    if connection.vendor != "postgresql":
        raise CommandError("The bench fixture needs PostgreSQL.")
    log = log or (lambda message: None)
    started = time.perf_counter()
    with transaction.atomic():
        fixture = _ensure_base()
        # Column locks in pk order, like the services, before reading bottom positions.
        list(
            Stage.objects.select_for_update()
            .filter(pk__in=[s.pk for s in fixture.stages])
            .order_by("pk")
        )
        rows = (
            Deal.objects.filter(pipeline=fixture.pipeline, status=DealStatus.OPEN)
            .values("stage_id")
            .annotate(n=Count("pk"), bottom=Max("position"))
            .order_by()
        )
        current = {row["stage_id"]: row["n"] for row in rows}
        bottoms = {row["stage_id"]: row["bottom"] for row in rows}
        targets = _stage_targets(total, fixture.stages)
        owners = [fixture.user.pk] * 8 + [u.pk for u in fixture.others]
        companies = list(
            Company.objects.filter(team=fixture.team).order_by("pk").values_list("pk", flat=True)
        )
        seq = Deal.objects.filter(pipeline=fixture.pipeline).count()
        inserted = deleted = 0
        for stage in fixture.stages:
            have, want = current.get(stage.pk, 0), targets[stage.pk]
            if have > want:
                # Shrink: drop the bottom cards of the column (with their history).
                doomed = (
                    Deal.objects.filter(stage=stage, status=DealStatus.OPEN)
                    .order_by("-position", "-pk")
                    .values_list("pk", flat=True)[: have - want]
                )
                delete_deals("id = ANY(%s)", [list(doomed)])
                deleted += have - want
            elif want > have:
                count = want - have
                with connection.cursor() as cursor:
                    cursor.execute(
                        _INSERT_SQL,
                        {
                            "titles": TITLES,
                            "n_titles": len(TITLES),
                            "currencies": CURRENCIES,
                            "n_currencies": len(CURRENCIES),
                            "owners": owners,
                            "n_owners": len(owners),
                            "companies": companies,
                            "n_companies": len(companies),
                            "seq": seq,
                            "start": bottoms.get(stage.pk) or 0,
                            "gap": POSITION_GAP,
                            "pipeline": fixture.pipeline.pk,
                            "stage": stage.pk,
                            "rot_days": stage.rot_days,
                            "count": count,
                        },
                    )
                seq += count
                inserted += count
        if inserted:
            plan_next_steps(fixture.pipeline.pk)
        if inserted or deleted:
            # The rows above bypass the services: bring the kept column totals up to date.
            stage_totals_rebuild(stage_ids=[s.pk for s in fixture.stages])
            with connection.cursor() as cursor:
                for table in (
                    "pipeline_deal",
                    "pipeline_activity",
                    "pipeline_stagechange",
                    "crm_company",
                ):
                    cursor.execute(f"ANALYZE {table}")
    log(
        f"Fixture: {total} open deals in {PIPELINE_NAME!r} "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return fixture


def _delete_rows(model, where: str, params: list, *, depth: int = 0) -> None:
    """DELETE FROM model's table WHERE `where`, first deleting (CASCADE) or clearing (SET_NULL)
    what refers to those rows, as found in the models' metadata, so whatever refers to a deal
    today or later is handled. Set-based: a few statements whatever the number of rows (the
    ORM's delete() would load every related row into Python)."""
    if depth > 4:
        raise CommandError(f"Cascade too deep at {model.__name__}.")
    table = model._meta.db_table
    pk = model._meta.pk.column
    doomed = f"SELECT {pk} FROM {table} WHERE {where}"
    # include_hidden: relations named "+" (a notification's flag, a deal's next step) count too.
    for rel in model._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        related, column = rel.related_model, rel.field.column
        if rel.on_delete is models.CASCADE:
            _delete_rows(related, f"{column} IN ({doomed})", params, depth=depth + 1)
        elif rel.on_delete is models.SET_NULL:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {related._meta.db_table} SET {column} = NULL "
                    f"WHERE {column} IN ({doomed})",
                    params,
                )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)


def delete_deals(where: str, params: list) -> None:
    """Delete the deals matching a WHERE clause on pipeline_deal, with everything of theirs
    (their part of the analytics' monthly sums first)."""
    from pipeline.services.analytics import analytics_forget_matching

    analytics_forget_matching(where, params)
    _delete_rows(Deal, where, params)


_NEXT_STEPS_SQL = """
WITH picked AS (
    SELECT id, owner_id FROM pipeline_deal
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND next_step_id IS NULL
        AND id %% 10 < 7 AND strpos(title, %(marker)s) > 0
), planned AS (
    INSERT INTO pipeline_activity (
        deal_id, kind, subject, due_date, due_time, assignee_id, note, done_at, created_by_id,
        created_at
    )
    SELECT
        id, 'call', (%(subjects)s::text[])[1 + id %% %(n_subjects)s],
        CASE WHEN id %% 10 = 0 THEN current_date - (1 + id %% 20)::int
             ELSE current_date + (1 + id %% 30)::int END,
        NULL, owner_id, '', NULL, owner_id, now()
    FROM picked
    RETURNING id, deal_id, subject, due_date, assignee_id
)
UPDATE pipeline_deal AS d
SET next_step_id = p.id, next_step_subject = p.subject, next_step_due = p.due_date,
    next_step_assignee_id = p.assignee_id
FROM planned AS p
WHERE d.id = p.deal_id
"""


NEXT_STEP_SUBJECTS = [
    "Call about the pilot",
    "Send the revised offer",
    "Demo for the warehouse team",
    "Agree the rollout date",
]


def plan_next_steps(pipeline_id: int, *, marker: str = "") -> int:
    """Give ~70% of the pipeline's open deals without a next step (those whose title contains
    `marker`) a real open activity as their next step (id % 10 < 7), copied onto the deal as
    the services do; of them id % 10 = 0 (~10% of all deals) is overdue, the rest due in 1-30
    days. Two statements whatever the count."""
    with connection.cursor() as cursor:
        cursor.execute(
            _NEXT_STEPS_SQL,
            {
                "pipeline": pipeline_id,
                "marker": marker,
                "subjects": NEXT_STEP_SUBJECTS,
                "n_subjects": len(NEXT_STEP_SUBJECTS),
            },
        )
        return cursor.rowcount


SCAN_PIPELINE_NAME = "Bench scan pipeline"


_SCAN_INSERT_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, last_movement_at, rots_at, next_step_subject, pause_reason
)
SELECT
    'Scan deal #' || k,
    (1 + (k * 7919) %% 480) * 250.00,
    (%(currencies)s::text[])[1 + k %% %(n_currencies)s],
    'open',
    k * %(gap)s,
    1,
    moved, moved - make_interval(days => 30), moved - make_interval(days => 30),
    false, false, false, '',
    %(pipeline)s,
    (%(stages)s::bigint[])[1 + k %% %(n_stages)s],
    (%(owners)s::bigint[])[1 + k %% %(n_owners)s],
    moved,
    moved + make_interval(days => %(rot_days)s),
    '', ''
FROM generate_series(%(seq)s::bigint + 1, %(seq)s::bigint + %(count)s) AS k,
    LATERAL (
        SELECT CASE WHEN k %% 10 = 7
            THEN now() - make_interval(days => %(rot_days)s + 1 + (k %% 30)::int)
            ELSE now() - make_interval(mins => ((k * 37) %% (60 * 24 * 7))::int) END
    ) AS t (moved)
"""


def build_scan_fixture(total: int, *, base: BenchFixture, log=None) -> Pipeline:
    """The separate pipeline the flag scan is measured on, set to exactly `total` open deals
    (no stage history: the scan does not read it), with the mix the scan has to sort out:

    - ~70% have a real open activity as their next step (id % 10 < 7), ~30% have none;
    - ~10% have an overdue next step (id % 10 = 0, due 1-20 days ago), the others are due in
      1-30 days;
    - ~10% are stale (k % 10 = 7: last movement longer ago than the stage's rot days), the
      others moved within the last week.

    Dates are relative to the day the rows were written, so a fixture reused on a later day
    drifts towards overdue and stale; the measured mix is reported with the results."""
    log = log or (lambda message: None)
    started = time.perf_counter()
    with transaction.atomic():
        pipeline, _ = Pipeline.objects.get_or_create(
            team=base.team, name=SCAN_PIPELINE_NAME, defaults={"position": 1001}
        )
        stages = []
        for position, (name, probability) in enumerate(STAGES):
            stage, _ = Stage.objects.get_or_create(
                pipeline=pipeline,
                name=name,
                defaults={"position": position, "probability": probability},
            )
            stages.append(stage)
        stages.sort(key=lambda s: (s.position, s.pk))
        deals = Deal.objects.filter(pipeline=pipeline)
        have = deals.count()
        inserted = deleted = 0
        if have > total:
            cutoff = deals.order_by("pk").values_list("pk", flat=True)[total]
            delete_deals("pipeline_id = %s AND id >= %s", [pipeline.pk, cutoff])
            deleted = have - total
        elif total > have:
            seq = deals.aggregate(top=Max("position"))["top"] or 0
            seq //= POSITION_GAP
            owners = [base.user.pk] * 8 + [u.pk for u in base.others]
            with connection.cursor() as cursor:
                cursor.execute(
                    _SCAN_INSERT_SQL,
                    {
                        "currencies": CURRENCIES,
                        "n_currencies": len(CURRENCIES),
                        "gap": POSITION_GAP,
                        "pipeline": pipeline.pk,
                        "stages": [s.pk for s in stages],
                        "n_stages": len(stages),
                        "owners": owners,
                        "n_owners": len(owners),
                        "rot_days": stages[0].rot_days,
                        "seq": seq,
                        "count": total - have,
                    },
                )
            inserted = total - have
            plan_next_steps(pipeline.pk)
        if inserted or deleted:
            stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    if inserted or deleted:
        _vacuum_analyze()
    log(
        f"Scan fixture: {total} open deals in {SCAN_PIPELINE_NAME!r} "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return pipeline


def _vacuum_analyze() -> None:
    """Fresh statistics and visibility maps after bulk writes, so autovacuum does not start in
    the middle of a timed scan (VACUUM cannot run inside a transaction)."""
    with connection.cursor() as cursor:
        for table in (
            "pipeline_deal",
            "pipeline_activity",
            "pipeline_flag",
            "pipeline_notification",
            "pipeline_stagetotal",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def reset_flags(team: Team) -> int:
    """Forget every flag of the bench team's deals (and the notifications about them), so the
    next scan raises everything from scratch, as on the first run after a deploy."""
    bench_deals = (
        "SELECT d.id FROM pipeline_deal d JOIN pipeline_pipeline p ON p.id = d.pipeline_id"
    )
    with transaction.atomic():
        count = Flag.objects.filter(deal__pipeline__team=team).count()
        _delete_rows(Flag, f"deal_id IN ({bench_deals} WHERE p.team_id = %s)", [team.pk])
        Notification.objects.filter(
            kind=NotificationKind.FLAGS_RAISED, user__memberships__team=team
        ).delete()
        StageTotal.objects.filter(stage__pipeline__team=team).update(attention=0)
    _vacuum_analyze()
    return count


def scan_mix(pipeline: Pipeline) -> dict[str, int]:
    """What the scan will find in the scan pipeline now (one pass over its deals)."""
    now = timezone.now()
    today = timezone.localdate(now)
    open_deals = Deal.objects.filter(pipeline=pipeline, status=DealStatus.OPEN)
    return open_deals.aggregate(
        open=Count("pk"),
        with_next_step=Count("pk", filter=Q(next_step__isnull=False)),
        overdue=Count("pk", filter=Q(next_step_due__lt=today)),
        stale=Count("pk", filter=Q(rots_at__lt=now)),
    )


# --- the board a real team has ------------------------------------------------------------

BOARD_USERNAME = "sven"  # the salesperson the board and the drag are measured as


BOARD_TEAM = "North"


BOARD_PIPELINE = "New business"


# Bench deals end their title with this marker and a number, so the fixture can count,
# grow and shrink them without touching the demo's own deals.
BOARD_MARKER = " #b"


_BOARD_INSERT_SQL = """
WITH new AS (
    INSERT INTO pipeline_deal (
        title, value, currency, status, position, version, stage_entered_at, created_at,
        updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
        pipeline_id, stage_id, owner_id, company_id, contact_id, expected_close_date,
        last_movement_at, rots_at, next_step_subject, pause_reason
    )
    SELECT
        (%(titles)s::text[])[1 + (%(seq)s + g) %% %(n_titles)s] || %(marker)s || (%(seq)s + g),
        (1 + ((%(seq)s + g) * 7919) %% 480) * 250.00,
        (%(currencies)s::text[])[1 + (%(seq)s + g) %% %(n_currencies)s],
        'open',
        %(start)s + g * %(gap)s,
        1,
        entered,
        entered - make_interval(days => 30),
        entered - make_interval(days => 30),
        (%(seq)s + g) %% 3 = 0, (%(seq)s + g) %% 4 = 0, (%(seq)s + g) %% 2 = 0, '',
        %(pipeline)s,
        %(stage)s,
        (%(owners)s::bigint[])[1 + (%(seq)s + g) %% %(n_owners)s],
        company,
        NULL,
        current_date + (((%(seq)s + g) * 13) %% 240 - 45),
        entered,
        entered + make_interval(days => %(rot_days)s),
        '', ''
    FROM generate_series(1, %(count)s) AS g,
        LATERAL (
            -- Entered the stage within 1.3 rot periods: about a quarter of them stale.
            SELECT now() - make_interval(
                mins => ((%(seq)s + g) * 37) %% (%(rot_days)s * 24 * 78)
            ),
            (%(companies)s::bigint[])[1 + ((%(seq)s + g) * 31) %% %(n_companies)s]
        ) AS t (entered, company)
    RETURNING id, stage_id, owner_id, created_at
)
INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)
SELECT id, NULL, stage_id, owner_id, created_at FROM new
"""


def build_demo_board(added: int, *, log=None) -> BenchFixture:
    """The board a real team has: `seed_demo`'s organisation (seeded here when missing), its
    North "New business" pipeline grown by exactly `added` open deals spread over the stages
    like the demo's (more in the early ones): owned by sven, lena, maria or nobody, at North's
    companies (with their tiers), about 70 % with a next step (a tenth of all overdue), about a
    quarter stale, their flags raised by a real flag scan, the stages' exit criteria as the
    demo has them. Idempotent; set-based SQL; PostgreSQL only. Returns the fixture as sven,
    a salesperson of North, sees it."""
    from crm.devtools.demo import DemoSeeder

    if connection.vendor != "postgresql":
        raise CommandError("The bench fixture needs PostgreSQL.")
    log = log or (lambda message: None)
    if not User.objects.filter(username=BOARD_USERNAME).exists():
        log("Seeding the demo organisation (seed_demo) ...")
        DemoSeeder(stdout=_Quiet()).run()
    started = time.perf_counter()
    pipeline = Pipeline.objects.get(team__name=BOARD_TEAM, name=BOARD_PIPELINE)
    stages = sorted(pipeline.stages.active(), key=lambda s: (s.position, s.pk))
    user = User.objects.get(username=BOARD_USERNAME)
    others = list(User.objects.filter(username__in=["lena", "maria"]).order_by("username"))
    fixture = BenchFixture(
        team=pipeline.team, user=user, others=others, pipeline=pipeline, stages=stages
    )
    bench_deals = Deal.objects.filter(
        pipeline=pipeline, status=DealStatus.OPEN, title__contains=BOARD_MARKER
    )
    have = bench_deals.count()
    inserted = deleted = 0
    with transaction.atomic():
        list(Stage.objects.select_for_update().filter(pk__in=[s.pk for s in stages]).order_by("pk"))
        if have > added:
            doomed = bench_deals.order_by("-position", "-pk").values_list("pk", flat=True)
            delete_deals("id = ANY(%s)", [list(doomed[: have - added])])
            deleted = have - added
        elif added > have:
            inserted = _board_insert(fixture, added - have)
        if inserted or deleted:
            stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    if inserted:
        _board_flags_scan()
    if inserted or deleted:
        _vacuum_analyze()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE pipeline_stagechange, crm_company")
    log(
        f"Fixture: seed_demo's {BOARD_TEAM} / {BOARD_PIPELINE!r} plus {added} open deals "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return fixture


class _Quiet:
    def write(self, message: str = "", *args, **kwargs) -> None:
        pass


def _board_insert(fixture: BenchFixture, count: int) -> int:
    """Append `count` bench deals at the bottom of the columns, the early stages getting more
    (weights 6:5:4:...), with their stage history and next steps."""
    stages = fixture.stages
    weights = [len(stages) + 1 - i for i in range(len(stages))]
    shares = [count * w // sum(weights) for w in weights]
    shares[0] += count - sum(shares)
    bottoms = dict(
        Deal.objects.filter(stage__in=stages, status=DealStatus.OPEN)
        .values("stage_id")
        .annotate(bottom=Max("position"))
        .values_list("stage_id", "bottom")
    )
    owners = [fixture.user.pk] * 3 + [u.pk for u in fixture.others] * 3 + [None]
    companies = list(
        Company.objects.filter(team=fixture.team).order_by("pk").values_list("pk", flat=True)
    )
    seq = Deal.objects.filter(pipeline=fixture.pipeline, title__contains=BOARD_MARKER).count()
    with connection.cursor() as cursor:
        for stage, share in zip(stages, shares, strict=True):
            if not share:
                continue
            cursor.execute(
                _BOARD_INSERT_SQL,
                {
                    "titles": TITLES,
                    "n_titles": len(TITLES),
                    "marker": BOARD_MARKER,
                    "currencies": CURRENCIES,
                    "n_currencies": len(CURRENCIES),
                    "owners": owners,
                    "n_owners": len(owners),
                    "companies": companies,
                    "n_companies": len(companies),
                    "seq": seq,
                    "start": bottoms.get(stage.pk) or 0,
                    "gap": POSITION_GAP,
                    "pipeline": fixture.pipeline.pk,
                    "stage": stage.pk,
                    "rot_days": stage.rot_days,
                    "count": share,
                },
            )
            seq += share
    plan_next_steps(fixture.pipeline.pk, marker=BOARD_MARKER)
    return count


def _board_flags_scan() -> None:
    """The flag scan over the freshly loaded deals, as seed_demo runs it after a bulk load
    (fresh statistics, nested loops off for the first scan)."""
    from pipeline.services import flags_scan

    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE pipeline_deal, pipeline_activity, pipeline_flag, pipeline_notification"
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_nestloop = off")
        flags_scan()


def scan_base() -> BenchFixture:
    """The bench team the flag scan's pipeline belongs to (apart from the demo's teams)."""
    return _ensure_base()
