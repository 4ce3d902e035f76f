"""Server-rendered SVG charts for the forecast page.

The geometry is computed here and the template draws it, so every label goes through the
template's autoescaping, and colours come from CSS classes (`series-0` ... `series-7`,
`series-other`, `bar-won`, `target-line`): the Content-Security-Policy allows no style
attributes, while SVG presentation attributes (x, y, width, height, points) are fine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from crm.web.money import format_compact, format_money

WIDTH, HEIGHT = 960, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 14, 22, 30
PALETTE = 8  # series-0 ... series-7 in app.css; the rest are summed into "Other"
MAX_X_LABELS = 14
MAX_TOTAL_LABELS = 16


@dataclass
class Series:
    label: str
    values: list[Decimal]  # one per period
    urls: list[str | None] = field(default_factory=list)  # drill-down per period
    css: str = ""


@dataclass
class Segment:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    url: str | None = None


@dataclass
class TargetMark:
    x1: float
    x2: float
    y: float
    title: str


@dataclass
class Slot:
    label: str
    show_label: bool
    x: float  # the centre of the bar
    segments: list[Segment]
    total: str
    total_y: float
    target: TargetMark | None = None


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class StackedBarChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    slots: list[Slot]
    ticks: list[Tick]
    legend: list[Series]
    has_won: bool
    has_target: bool
    show_totals: bool

    @property
    def is_empty(self) -> bool:
        return not any(slot.segments for slot in self.slots) and not self.has_target


def _number(amount: Decimal | float) -> str:
    """'12.5k', '1.2M', '950': an axis label without the currency."""
    return format_compact(Decimal(str(amount)), "").strip()


def nice_step(maximum: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 x 10^n) so that `ticks` steps cover `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def stacked_bars(
    *,
    labels: list[str],
    series: list[Series],
    won: Series | None = None,
    targets: list[Decimal | None] | None = None,
    currency: str,
) -> StackedBarChart:
    """One stacked bar per period: what was won at the base (a distinct colour), then the
    weighted open value of each series on top, so the bar's height is what the period should
    bring. With targets, a dashed mark across each period's slot."""
    n = max(len(labels), 1)
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    slot_width = (plot_right - plot_left) / n
    bar_width = min(slot_width * 0.62, 58.0)
    targets = targets or [None] * len(labels)
    stacks = [
        (won.values[i] if won else Decimal(0)) + sum((s.values[i] for s in series), Decimal(0))
        for i in range(len(labels))
    ]
    highest = max([float(v) for v in stacks] + [float(t) for t in targets if t] + [0.0])
    step = nice_step(highest)
    top = step * max(1, math.ceil(highest / step)) if highest > 0 else step * 4
    scale = (plot_bottom - plot_top) / top

    def y_of(value: float) -> float:
        return plot_bottom - value * scale

    ticks = [
        Tick(y=round(y_of(step * i), 2), label=_number(step * i))
        for i in range(int(round(top / step)) + 1)
    ]
    label_every = math.ceil(len(labels) / MAX_X_LABELS) if labels else 1
    slots = []
    for i, label in enumerate(labels):
        centre = plot_left + slot_width * (i + 0.5)
        left = centre - bar_width / 2
        base = 0.0
        segments = []
        layers = ([won] if won else []) + series
        for layer in layers:
            value = layer.values[i]
            height = float(value) * scale
            if value > 0 and height >= 0.5:
                segments.append(
                    Segment(
                        x=round(left, 2),
                        y=round(y_of(base + float(value)), 2),
                        width=round(bar_width, 2),
                        height=round(height, 2),
                        css=layer.css,
                        title=f"{layer.label} · {label}: {format_money(value, currency)}",
                        url=layer.urls[i] if layer.urls else None,
                    )
                )
            base += float(value)
        target = None
        if targets[i]:
            target = TargetMark(
                x1=round(centre - slot_width * 0.46, 2),
                x2=round(centre + slot_width * 0.46, 2),
                y=round(y_of(float(targets[i])), 2),
                title=_("Target · %(period)s: %(amount)s")
                % {"period": label, "amount": format_money(targets[i], currency)},
            )
        slots.append(
            Slot(
                label=label,
                show_label=i % label_every == 0,
                x=round(centre, 2),
                segments=segments,
                total=_number(stacks[i]) if stacks[i] else "",
                total_y=round(y_of(float(stacks[i])) - 6, 2),
                target=target,
            )
        )
    return StackedBarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        slots=slots,
        ticks=ticks,
        legend=([won] if won else []) + series,
        has_won=bool(won and any(won.values)),
        has_target=any(targets),
        show_totals=len(labels) <= MAX_TOTAL_LABELS,
    )


@dataclass
class Sparkline:
    width: int
    height: int
    points: str
    last_x: float
    last_y: float
    direction: str  # "up", "down" or "flat": the last value against the first
    title: str


def sparkline(
    values: list[Decimal], *, width: int = 64, height: int = 18, title: str = ""
) -> Sparkline | None:
    """A tiny line of a period's weighted forecast over the last snapshots; None with fewer
    than two (one point is not a trend)."""
    if len(values) < 2:
        return None
    pad = 2.0
    low, high = min(values), max(values)
    spread = float(high - low) or 1.0
    count = len(values)
    step = (width - 2 * pad) / (count - 1)
    coords = []
    for i, value in enumerate(values):
        x = pad + step * i
        y = height - pad - (float(value - low) / spread) * (height - 2 * pad)
        if high == low:
            y = height / 2
        coords.append((round(x, 2), round(y, 2)))
    first, last = values[0], values[-1]
    direction = "up" if last > first else "down" if last < first else "flat"
    return Sparkline(
        width=width,
        height=height,
        points=" ".join(f"{x},{y}" for x, y in coords),
        last_x=coords[-1][0],
        last_y=coords[-1][1],
        direction=direction,
        title=title,
    )
