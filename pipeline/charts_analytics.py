"""Server-rendered SVG charts for the analytics pages, in the manner of pipeline/charts.py:
the geometry is computed here, the template draws it (labels autoescaped, colours from CSS
classes; the Content-Security-Policy allows no style attributes). The velocity trend reuses
`charts.stacked_bars`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from crm.organisation import reporting_currency
from pipeline import charts

FUNNEL_WIDTH = 960
FUNNEL_ROW = 38
FUNNEL_LABEL = 170
FUNNEL_RIGHT = 150


@dataclass
class FunnelBar:
    label: str
    y: float
    height: float
    entered_x: float
    entered_width: float
    moved_x: float
    moved_width: float
    text_y: float
    value: str
    title: str
    url: str
    is_biggest_drop: bool


@dataclass
class FunnelChart:
    width: int
    height: int
    label_x: float
    value_x: float
    bars: list[FunnelBar]

    @property
    def is_empty(self) -> bool:
        return not any(b.entered_width for b in self.bars)


def funnel_chart(rows, *, urls: list[str]) -> FunnelChart:
    """A centred bar per stage, its width the deals that entered; the darker inner bar the
    deals that moved on. The stage with the biggest drop is marked by a class."""
    plot = FUNNEL_WIDTH - FUNNEL_LABEL - FUNNEL_RIGHT
    centre = FUNNEL_LABEL + plot / 2
    top = max([r.entered for r in rows] + [1])
    bars = []
    for i, (row, url) in enumerate(zip(rows, urls, strict=True)):
        y = 8 + i * FUNNEL_ROW
        width = plot * row.entered / top
        moved = plot * row.moved_on / top
        percent = "–" if row.conversion is None else f"{round(row.conversion * 100)} %"
        bars.append(
            FunnelBar(
                label=row.stage.name,
                y=y,
                height=FUNNEL_ROW - 10,
                entered_x=round(centre - width / 2, 2),
                entered_width=round(width, 2),
                moved_x=round(centre - moved / 2, 2),
                moved_width=round(moved, 2),
                text_y=y + (FUNNEL_ROW - 10) / 2 + 4,
                value=f"{row.entered} → {row.moved_on} ({percent})",
                title=_("%(stage)s: %(entered)s entered, %(moved)s moved on, %(lost)s lost here")
                % {
                    "stage": row.stage.name,
                    "entered": row.entered,
                    "moved": row.moved_on,
                    "lost": row.lost,
                },
                url=url,
                is_biggest_drop=row.is_biggest_drop,
            )
        )
    return FunnelChart(
        width=FUNNEL_WIDTH,
        height=16 + len(rows) * FUNNEL_ROW,
        label_x=FUNNEL_LABEL - 12,
        value_x=FUNNEL_WIDTH - FUNNEL_RIGHT + 12,
        bars=bars,
    )


@dataclass
class HistogramBar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Histogram:
    width: int
    height: int
    bars: list[HistogramBar]
    labels: list[tuple[float, str]]


def histogram(counts: list[int], *, buckets, width: int = 220, height: int = 64) -> Histogram:
    """A small bar per bucket of stay lengths (days), heights relative to the largest."""
    bottom = height - 14
    top = max(counts + [1])
    slot = width / max(len(counts), 1)
    bars, labels = [], []
    for i, (count, (low, high)) in enumerate(zip(counts, buckets, strict=True)):
        name = f"{low}–{high}" if high is not None else f"{low}+"
        bar_height = (bottom - 4) * count / top
        bars.append(
            HistogramBar(
                x=round(i * slot + 2, 2),
                y=round(bottom - bar_height, 2),
                width=round(slot - 4, 2),
                height=round(bar_height, 2),
                title=_("%(range)s days: %(count)s stays") % {"range": name, "count": count},
            )
        )
        labels.append((round(i * slot + slot / 2, 2), name))
    return Histogram(width=width, height=height, bars=bars, labels=labels)


def velocity_trend_chart(points, *, labels: list[str]) -> charts.StackedBarChart:
    """Velocity per month as bars, reusing the forecast's stacked-bar geometry."""
    values = [p.per_day or Decimal(0) for p in points]
    series = charts.Series(label=_("Velocity per day"), values=values, css="series-0")
    return charts.stacked_bars(labels=labels, series=[series], currency=reporting_currency())
