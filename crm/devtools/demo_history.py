"""Nine months of closed deals (ending half a year ago) with their stage history, so the
analytics pages tell a story on first run: reps with different strengths (Sven opens well
and stalls at the proposal, Lena qualifies hard and closes, Karl is steady), a slow
"Proposal sent", losses whose reasons depend on the stage (budget early, competitors mid-way,
price late), deals that skip a stage or move back, product areas lost at different speeds.

Closed deals only (won or lost), so the board and the forecast of open deals stay as seeded.
Written with bulk inserts; deterministic for a given seed.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_noop as N_

from crm.models import Company
from pipeline.models import Deal, DealStatus, LostReason, ProductArea, StageChange

AREAS = [N_("Fleet telematics"), N_("Warehouse systems"), N_("Cold chain")]
DEALS_PER_PIPELINE = 90
MONTHS = 9
# The demo's weekly forecast snapshots cover the last 26 weeks, built from the base deals: the
# history closes before the first of them so every snapshot stays true to the deals.
SNAPSHOT_WEEKS = 27
CURRENCIES = ["EUR", "EUR", "DKK", "SEK", "NOK"]
RATE = {"EUR": 1, "DKK": Decimal("7.46"), "SEK": Decimal("11.2"), "NOK": Decimal("11.6")}
# Chance to move on from stage i, per rep style; the rest are lost there.
STYLES = {
    "opener": [0.92, 0.85, 0.7, 0.45, 0.6, 0.7],
    "closer": [0.7, 0.6, 0.8, 0.8, 0.85, 0.85],
    "steady": [0.8, 0.75, 0.7, 0.65, 0.7, 0.75],
}
# Median days per stay, per stage position; "Proposal sent" (index 3) is the slow one.
STAGE_DAYS = [3, 8, 10, 34, 9, 12]
# Lost reasons by how far the deal got (early, mid, late).
REASONS_BY_PHASE = {
    "early": [N_("No budget"), N_("Disqualified"), N_("Timing: not now")],
    "mid": [N_("Chose a competitor"), N_("Missing feature or fit"), N_("No decision / went quiet")],
    "late": [N_("Price too high"), N_("Chose a competitor"), N_("Lost the champion")],
}
# Area: (value factor, how much faster deals of the area are lost)
AREA_PROFILE = {AREAS[0]: (1.0, 1.0), AREAS[1]: (1.8, 1.4), AREAS[2]: (0.7, 0.6)}


def seed_history(*, specs: dict, users: dict, seed: int) -> int:
    """Add the closed-deal history to each demo pipeline; returns the number of deals."""
    rng = random.Random(f"{seed}-history")
    now = timezone.now()
    cutoff = now - timedelta(weeks=SNAPSHOT_WEEKS)
    areas = [
        ProductArea.objects.get_or_create(name=name, defaults={"position": i})[0]
        for i, name in enumerate(AREAS)
    ]
    reasons = {
        name: LostReason.objects.get_or_create(name=name)[0]
        for names in REASONS_BY_PHASE.values()
        for name in names
    }
    styles = {"sven": "opener", "lena": "closer", "karl": "steady", "maria": "closer"}
    deals: list[Deal] = []
    paths: list[list] = []
    for spec in specs.values():
        team_id = spec.pipeline.team_id
        owners = [u for name, u in users.items() if name in styles and _member(u, team_id)]
        companies = list(Company.objects.filter(team_id=team_id).order_by("pk"))
        if not owners or not companies or len(spec.stages) < 2:
            continue
        for _ in range(DEALS_PER_PIPELINE):
            owner = rng.choice(owners)
            style = STYLES[styles[owner.username]]
            area = rng.choice(areas)
            factor, loss_speed = AREA_PROFILE[area.name]
            created = cutoff - timedelta(days=rng.uniform(15, 30 * MONTHS))
            at, index, path = created, 0, [(0, created)]
            status, lost_from = DealStatus.WON, None
            while True:
                stay = STAGE_DAYS[min(index, len(STAGE_DAYS) - 1)] * rng.uniform(0.4, 2.2)
                chance = style[min(index, len(style) - 1)]
                if rng.random() > chance:
                    stay /= loss_speed
                    at += timedelta(days=stay)
                    status, lost_from = DealStatus.LOST, index
                    break
                at += timedelta(days=stay)
                if index == len(spec.stages) - 1:
                    break  # won from the last stage
                step = 2 if rng.random() < 0.1 and index + 2 < len(spec.stages) else 1
                if index >= 2 and rng.random() < 0.08:
                    step = -1  # moved back, e.g. the proposal went back to discovery
                index += step
                path.append((index, at))
            if at >= cutoff:  # move the whole history back so it closes before the cutoff
                shift = at - cutoff + timedelta(days=rng.uniform(1, 20))
                created, at = created - shift, at - shift
                path = [(i, when - shift) for i, when in path]
            phase = "early" if (lost_from or 0) <= 1 else "mid" if lost_from <= 3 else "late"
            currency = rng.choice(CURRENCIES)
            value = Decimal(rng.randint(8, 160) * 500) * Decimal(str(factor)) * RATE[currency]
            stage = spec.stages[index]
            deals.append(
                Deal(
                    title=f"{rng.choice(['Rollout', 'Pilot', 'Licences', 'Upgrade'])} · "
                    f"{area.name} #{len(deals) + 1}",
                    company=rng.choice(companies),
                    owner=owner,
                    pipeline=spec.pipeline,
                    stage=stage,
                    position=0,
                    value=value.quantize(Decimal("1")),
                    currency=currency,
                    status=status,
                    lost_reason=reasons[rng.choice(REASONS_BY_PHASE[phase])]
                    if status == DealStatus.LOST
                    else None,
                    lost_from_stage=stage if status == DealStatus.LOST else None,
                    product_area=area,
                    created_at=created,
                    stage_entered_at=path[-1][1],
                    last_movement_at=path[-1][1],
                    rots_at=path[-1][1] + timedelta(days=stage.rot_days),
                    closed_at=at,
                    expected_close_date=timezone.localdate(at),
                )
            )
            paths.append([(spec.stages[i], when) for i, when in path])
    created_deals = Deal.objects.bulk_create(deals)
    changes = []
    for deal, path in zip(created_deals, paths, strict=True):
        previous = None
        for stage, when in path:
            changes.append(
                StageChange(
                    deal=deal, from_stage=previous, to_stage=stage, user=deal.owner, at=when
                )
            )
            previous = stage
    StageChange.objects.bulk_create(changes, batch_size=1000)
    return len(created_deals)


def _member(user, team_id: int) -> bool:
    return user.memberships.filter(team_id=team_id).exists()
