"""The forecast page: the weighted forecast by period as a chart and a table, drill-down to the
deals behind a cell, CSV and XLSX export (crm/web/exports.py), targets set in place, what
changed since last week's snapshot, forecast accuracy and stage calibration.

The page itself costs a fixed number of queries (see tests/pipeline/views/test_forecast.py);
accuracy and calibration read snapshots and stage history, so they are panels of their own,
loaded by htmx once the page is shown (and plain links without JavaScript).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.access import access_for
from accounts.selectors import editable_rep_ids, users_visible_to
from crm.organisation import reporting_currency
from crm.replica import reads_from_replica
from crm.web.exports import csv_safe, export_response  # noqa: F401 (csv_safe lived here)
from crm.web.formats import format_date, format_number
from crm.web.money import format_money
from crm.web.refusals import form_refusal
from pipeline import charts, services
from pipeline.forecasting import period_label, periods
from pipeline.forms.forecast import (
    GROUP_CHOICES,
    ForecastCellForm,
    ForecastFilterForm,
    ProbabilityForm,
    SalesTargetForm,
    filter_form_from_query,
)
from pipeline.models import PeriodKind
from pipeline.money import current_rates, round_cents
from pipeline.selectors.board import stage_get_for_user
from pipeline.selectors.forecast import (
    REASONS,
    Cell,
    Forecast,
    changes_since_snapshot,
    forecast_accuracy,
    forecast_cell_deals,
    forecast_for_user,
    forecast_trend,
    stage_calibration,
)

DRILL_DOWN_LIMIT = 500
ACCURACY_PERIODS = 4
SMALL_SAMPLE = 5  # fewer closed deals than this: the observed rate says little


def _coverage(expected: Decimal, target: Decimal | None) -> tuple[int | None, str]:
    """Percent of the target covered and its colour: under 80 % red, over 120 % green."""
    if not target:
        return None, ""
    ratio = expected / target
    css = "coverage-low" if ratio < Decimal("0.8") else ""
    css = "coverage-high" if ratio > Decimal("1.2") else css
    return int((ratio * 100).to_integral_value()), css or "coverage-ok"


# --- the table and the chart, shaped for the template ----------------------------------------


@dataclass
class TargetCell:
    rep_id: int
    period: date | None  # None: the row's total
    amount: Decimal | None
    expected: Decimal
    editable: bool = False
    coverage: int | None = None
    coverage_css: str = ""

    def __post_init__(self):
        self.coverage, self.coverage_css = _coverage(self.expected, self.amount)

    @property
    def dom_id(self) -> str:
        suffix = self.period.strftime("%Y%m%d") if self.period else "total"
        return f"target-{self.rep_id}-{suffix}"


@dataclass
class TableCell:
    period: date
    cell: Cell
    url: str
    won_url: str
    target: TargetCell | None = None


@dataclass
class TableRow:
    key: int | None
    label: str
    css: str
    cells: list[TableCell]
    total: Cell
    target_total: TargetCell | None = None
    targets: list[TargetCell] = field(default_factory=list)


@dataclass
class ForecastTable:
    rows: list[TableRow]
    totals: list[Cell]
    total: Cell
    target_sums: list[TargetCell]
    target_total: TargetCell | None
    has_targets: bool


def _row_label(row, group: str) -> str:
    if row.key is None and group == "owner":
        return _("Unassigned")
    return row.label


def _series_css(forecast: Forecast) -> dict:
    return {row.key: f"series-{i}" for i, row in enumerate(forecast.rows[: charts.PALETTE - 1])}


def forecast_table(*, form: ForecastFilterForm, forecast: Forecast, editable: set[int]):
    group = forecast.filters.group
    deals_url = reverse("forecast-deals")
    css = _series_css(forecast)
    is_reps = group == "owner"
    empty = Cell()
    rows = []
    for row in forecast.rows:
        key = "none" if row.key is None else row.key
        cells = []
        for period in forecast.periods:
            query = form.query(cell=period.isoformat(), row=key)
            cells.append(
                TableCell(
                    period=period,
                    cell=row.cells.get(period) or empty,
                    url=f"{deals_url}?{query}",
                    won_url=f"{deals_url}?{query}&won=1",
                )
            )
        table_row = TableRow(
            key=row.key,
            label=_row_label(row, group),
            css=css.get(row.key, "series-other"),
            cells=cells,
            total=row.total,
        )
        if is_reps and row.key is not None:
            for cell in cells:
                cell.target = TargetCell(
                    rep_id=row.key,
                    period=cell.period,
                    amount=row.targets.get(cell.period),
                    expected=cell.cell.expected,
                    editable=row.key in editable,
                )
                table_row.targets.append(cell.target)
            if row.targets:
                table_row.target_total = TargetCell(
                    rep_id=row.key,
                    period=None,
                    amount=sum(row.targets.values(), Decimal(0)),
                    expected=row.total.expected,
                )
        rows.append(table_row)
    sums = []
    for period in forecast.periods:
        amount = sum((r.targets.get(period, Decimal(0)) for r in forecast.rows), Decimal(0))
        sums.append(
            TargetCell(
                rep_id=0,
                period=period,
                amount=amount or None,
                expected=forecast.totals[period].expected,
            )
        )
    grand = sum((t.amount or Decimal(0) for t in sums), Decimal(0))
    return ForecastTable(
        rows=rows,
        totals=[forecast.totals[p] for p in forecast.periods],
        total=forecast.total,
        target_sums=sums,
        target_total=TargetCell(
            rep_id=0, period=None, amount=grand or None, expected=forecast.total.expected
        )
        if grand
        else None,
        has_targets=is_reps,
    )


def forecast_chart(*, form: ForecastFilterForm, forecast: Forecast) -> charts.StackedBarChart:
    """Bars stacked by the table's rows (the seven largest, the rest as "Other"), the won
    actuals at the base, and for reps the summed target."""
    group = forecast.filters.group
    periods = forecast.periods
    labels = [forecast.label(p) for p in periods]
    deals_url = reverse("forecast-deals")
    shown = forecast.rows[: charts.PALETTE - 1]
    rest = forecast.rows[charts.PALETTE - 1 :]
    series = []
    for i, row in enumerate(shown):
        key = "none" if row.key is None else row.key
        series.append(
            charts.Series(
                label=_row_label(row, group),
                values=[(row.cells.get(p) or Cell()).weighted for p in periods],
                urls=[f"{deals_url}?{form.query(cell=p.isoformat(), row=key)}" for p in periods],
                css=f"series-{i}",
            )
        )
    if rest:
        series.append(
            charts.Series(
                label=_("Other (%(count)s)") % {"count": len(rest)},
                values=[
                    round_cents(
                        sum(((r.cells.get(p) or Cell()).weighted_exact for r in rest), Decimal(0))
                    )
                    for p in periods
                ],
                css="series-other",
            )
        )
    won = charts.Series(
        label=_("Won"), values=[forecast.totals[p].won for p in periods], css="bar-won"
    )
    targets = None
    if group == "owner":
        targets = [
            sum((r.targets.get(p, Decimal(0)) for r in forecast.rows), Decimal(0)) or None
            for p in periods
        ]
    return charts.stacked_bars(
        labels=labels,
        series=series,
        won=won,
        targets=targets,
        currency=reporting_currency(),
    )


REASON_LABELS = {
    "new": gettext_lazy("New deals"),
    "moved": gettext_lazy("Moved stage"),
    "value": gettext_lazy("Value changed"),
    "slipped": gettext_lazy("Close date moved"),
    "won": gettext_lazy("Won"),
    "lost": gettext_lazy("Lost"),
    "paused": gettext_lazy("Paused"),
}


@dataclass
class PeriodChanges:
    label: str
    net: Decimal
    reasons: list


def _changes(period_list: list, kind: str, changes: dict) -> tuple[list[PeriodChanges], Decimal]:
    """Per period of the range, the net change and its reasons; and the net change of the
    periods outside the range (close dates that passed or lie further out)."""
    labels = {reason: str(REASON_LABELS[reason]) for reason in REASONS}
    result = []
    outside = Decimal(0)
    in_range = set(period_list)
    for period in sorted(changes):
        by_reason = changes[period]
        net = round_cents(sum((c.delta_exact for c in by_reason.values()), Decimal(0)))
        if period not in in_range:
            outside += net
            continue
        reasons = [
            (labels[r], by_reason[r].delta, by_reason[r].count)
            for r in REASONS
            if r in by_reason and (by_reason[r].delta or by_reason[r].count)
        ]
        if reasons:
            result.append(PeriodChanges(label=period_label(period, kind), net=net, reasons=reasons))
    return result, outside


def _sparklines(forecast: Forecast, trend: dict) -> list:
    lines = []
    for period in forecast.periods:
        points = trend.get(period, [])
        title = _("%(period)s in the last %(count)s weekly snapshots: %(values)s") % {
            "period": forecast.label(period),
            "count": len(points),
            "values": ", ".join(
                format_money(value, reporting_currency()) for _week, value in points
            ),
        }
        lines.append(charts.sparkline([value for _week, value in points], title=title))
    return lines


def context_labels(forecast: Forecast) -> list[str]:
    return [forecast.label(p) for p in forecast.periods]


def _rates_note(rates) -> list[str]:
    notes = []
    for currency in sorted(rates):
        rate = rates[currency]
        if currency == reporting_currency():
            continue
        number = format_number(rate.rate.normalize())
        if rate.valid_from:
            notes.append(
                _("%(currency)s %(rate)s since %(date)s")
                % {
                    "currency": currency,
                    "rate": number,
                    "date": format_date(rate.valid_from),
                }
            )
        else:
            notes.append(
                _("%(currency)s %(rate)s (standard rate)") % {"currency": currency, "rate": number}
            )
    return notes


def _links(form: ForecastFilterForm) -> dict:
    """Links for the period and grouping switches; a new period kind starts from its default
    range."""
    url = reverse("forecast")
    kinds = [
        (label, f"{url}?{form.query(period=value, range=None)}", value == form.kind)
        for value, label in PeriodKind.choices
    ]
    groups = [
        (label, f"{url}?{form.query(group=value)}", value == form.cleaned_data["group"])
        for value, label in GROUP_CHOICES
    ]
    return {"kind_links": kinds, "group_links": groups}


def _page_context(request, form: ForecastFilterForm, forecast: Forecast) -> dict:
    editable = editable_rep_ids(user=request.user, rep_ids=[u.pk for u in form.reps])
    return {
        "form": form,
        "filters": forecast.filters,
        "forecast": forecast,
        "query": form.query(),
        "table": forecast_table(form=form, forecast=forecast, editable=editable),
        "chart": forecast_chart(form=form, forecast=forecast),
        "period_labels": context_labels(forecast),
        "currency": reporting_currency(),
        "export_url": f"{reverse('forecast-export')}?{form.query()}",
        "export_xlsx_url": f"{reverse('forecast-export-xlsx')}?{form.query()}",
        "rates_note": _rates_note(forecast.rates),
        "can_set_targets": bool(editable),
        **_links(form),
    }


# --- views ---------------------------------------------------------------------------------


@login_required
@require_GET
@reads_from_replica
def forecast(request):
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    today = timezone.localdate()
    result = forecast_for_user(user=request.user, filters=filters, today=today)
    trend = forecast_trend(user=request.user, filters=filters, period_list=result.periods)
    context = _page_context(request, form, result) | {
        "columns": list(zip(context_labels(result), _sparklines(result, trend), strict=True)),
    }
    return render(request, "pipeline/forecast.html", context)


@login_required
@require_GET
@reads_from_replica
def forecast_export(request, file_format: str = "csv"):
    """The table as CSV or XLSX (the same rows): per row and period the weighted open and won
    value (and for reps the target), in the reporting currency, formula-safe."""
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    result = forecast_for_user(user=request.user, filters=filters, today=timezone.localdate())
    rows = forecast_export_rows(
        result, row_title=str(dict(GROUP_CHOICES)[form.cleaned_data["group"]])
    )
    name = f"forecast-{filters.kind}-{result.periods[0].isoformat()}"
    return export_response(file_format, name=name, rows=rows)


def forecast_export_rows(result: Forecast, *, row_title: str):
    """The header, a line per row and the totals; money as Decimal, blanks as None (the
    writers in crm/web/exports.py make text cells formula-safe)."""
    currency = reporting_currency()
    with_targets = result.filters.group == "owner"
    header = [row_title]
    for period in result.periods:
        names = {"period": result.label(period), "currency": currency}
        header += [
            _("%(period)s weighted (%(currency)s)") % names,
            _("%(period)s won (%(currency)s)") % names,
        ]
        if with_targets:
            header.append(_("%(period)s target (%(currency)s)") % names)
    header += [_("Total weighted"), _("Total won"), _("Open deals")]
    if with_targets:
        header.append(_("Total target"))
    yield header
    for row in result.rows:
        line = [_row_label(row, result.filters.group)]
        for period in result.periods:
            cell = row.cells.get(period) or Cell()
            line += [cell.weighted, cell.won]
            if with_targets:
                line.append(row.targets.get(period))
        line += [row.total.weighted, row.total.won, row.total.count]
        if with_targets:
            line.append(sum(row.targets.values(), Decimal(0)) if row.targets else None)
        yield line
    line = [_("Total")]
    target_sums = []
    for period in result.periods:
        line += [result.totals[period].weighted, result.totals[period].won]
        if with_targets:
            amounts = [r.targets[period] for r in result.rows if period in r.targets]
            target_sums += amounts
            line.append(sum(amounts, Decimal(0)) if amounts else None)
    line += [result.total.weighted, result.total.won, result.total.count]
    if with_targets:
        line.append(sum(target_sums, Decimal(0)) if target_sums else None)
    yield line


@login_required
@require_GET
@reads_from_replica
def forecast_deals(request):
    """The deals behind one cell of the table."""
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    cell_form = ForecastCellForm(request.GET, filter_form=form)
    if not cell_form.is_valid():
        return form_refusal(request, cell_form)
    filters, cell = form.filters(), cell_form.cleaned_data
    deals = list(
        forecast_cell_deals(
            user=request.user,
            filters=filters,
            period=cell["cell"],
            key=cell["row"],
            won=cell["won"],
        )[: DRILL_DOWN_LIMIT + 1]
    )
    rates = current_rates()
    total = Decimal(0)
    for deal in deals[:DRILL_DOWN_LIMIT]:
        deal.in_reporting = deal.value * rates[deal.currency].rate
        deal.weighted = deal.in_reporting * deal.stage.probability / Decimal(100)
        total += deal.in_reporting if cell["won"] else deal.weighted
    context = {
        "form": form,
        "deals": deals[:DRILL_DOWN_LIMIT],
        "truncated": len(deals) > DRILL_DOWN_LIMIT,
        "limit": DRILL_DOWN_LIMIT,
        "won": cell["won"],
        "period_label": period_label(cell["cell"], filters.kind),
        "row_label": cell_form.row_label,
        "total": round_cents(total),
        "back_url": f"{reverse('forecast')}?{form.query()}",
        "currency": reporting_currency(),
    }
    return render(request, "pipeline/forecast_deals.html", context)


@login_required
@require_POST
def forecast_target_set(request):
    """Set a rep's target for a period in place. Another team's rep: 404; a salesperson:
    403 (the service decides); bad input: 400. Nothing changes in any of these."""
    form = SalesTargetForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    data = form.cleaned_data
    rep = users_visible_to(user=request.user).filter(pk=data["rep"]).first()
    if rep is None:
        raise Http404
    services.sales_target_set(
        acting_user=request.user,
        user=rep,
        kind=data["period"],
        start=data["start"],
        amount=data["amount"],
    )
    page = filter_form_from_query(data["query"], user=request.user)
    if not page.is_valid():
        page = ForecastFilterForm({"period": data["period"]}, user=request.user)
        page.is_valid()
    if not request.htmx:
        messages.success(request, _("Target saved."))
        return redirect(f"{reverse('forecast')}?{page.query()}")
    result = forecast_for_user(
        user=request.user, filters=page.filters(), today=timezone.localdate()
    )
    context = _page_context(request, page, result)
    row = next((r for r in context["table"].rows if r.key == rep.pk), None)
    cell = next((t for t in (row.targets if row else []) if t.period == data["start"]), None)
    if cell is None:  # the rep or period is not on the page any more: show the value alone
        cell = TargetCell(
            rep_id=rep.pk,
            period=data["start"],
            amount=data["amount"],
            expected=Decimal(0),
            editable=True,
        )
    context |= {"target": cell, "row": row, "saved": True}
    return render(request, "pipeline/forecast_target_response.html", context)


def _panel(request, name: str, context: dict):
    """One of the panels loaded after the forecast page: its fragment for htmx, without
    JavaScript the panel as a page of its own."""
    template = "pipeline/forecast_panel.html"
    context = context | {"panel": name}
    return render(request, f"{template}#{name}" if request.htmx else template, context)


def _calibration_context(request, form: ForecastFilterForm) -> dict:
    pipelines = [p for p in form.pipelines if not p.is_archived] or form.pipelines
    chosen = form.cleaned_data.get("pipeline")
    pipeline = next((p for p in form.pipelines if p.pk == chosen), None)
    pipeline = pipeline or (pipelines[0] if pipelines else None)
    rows = stage_calibration(user=request.user, pipeline=pipeline) if pipeline else []
    return {
        "form": form,
        "calibration_pipeline": pipeline,
        "calibration_pipelines": pipelines,
        "calibration": rows,
        "small_sample": SMALL_SAMPLE,
        "is_admin": access_for(request.user).is_admin,
        "query": form.query(),
    }


@login_required
@require_GET
@reads_from_replica
def forecast_calibration_panel(request):
    """Configured stage probabilities beside observed win rates, for one pipeline."""
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    return _panel(request, "calibration", _calibration_context(request, form))


@login_required
@require_POST
def forecast_calibration_apply(request, pk: int):
    """Apply a suggested probability to a stage. Admins only (403 otherwise); a stage of a
    pipeline the user can't see: 404."""
    stage = stage_get_for_user(user=request.user, pk=pk)
    form = ProbabilityForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    probability = form.cleaned_data["probability"]
    services.stage_probability_apply(acting_user=request.user, stage=stage, probability=probability)
    message = _("%(stage)s now counts at %(probability)s %%.") % {
        "stage": stage.name,
        "probability": probability,
    }
    if not request.htmx:
        messages.success(request, message)
        return redirect(f"{reverse('forecast-calibration')}?pipeline={stage.pipeline_id}")
    page = ForecastFilterForm({"pipeline": stage.pipeline_id}, user=request.user)
    page.is_valid()
    context = _calibration_context(request, page) | {"toast": message}
    return render(request, "pipeline/forecast_panel.html#calibration", context)


@dataclass
class RepAccuracy:
    label: str
    rows: list


@login_required
@require_GET
@reads_from_replica
def forecast_changes_panel(request):
    """What changed since last week's snapshot, per period of the range and why. A panel of
    its own, loaded right after the page: it compares the week's writes with the snapshot."""
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    today = timezone.localdate()
    span = periods(filters.start or today, filters.kind, filters.count)
    run, changes = changes_since_snapshot(user=request.user, filters=filters, today=today)
    period_changes, outside = _changes(span, filters.kind, changes)
    context = {
        "form": form,
        "query": form.query(),
        "run": run,
        "changes": period_changes,
        "changes_outside": outside,
        "currency": reporting_currency(),
    }
    return _panel(request, "changes", context)


@login_required
@require_GET
@reads_from_replica
def forecast_accuracy_panel(request):
    """Per rep and closed period: what was won against the forecast 1 and 4 weeks before."""
    form = ForecastFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    rows = forecast_accuracy(
        user=request.user, filters=filters, today=timezone.localdate(), count=ACCURACY_PERIODS
    )
    reps: dict = {}
    for row in rows:
        row.period_label = period_label(row.period, filters.kind)
        row.percent_1 = _percent(row.accuracy_1)
        row.percent_4 = _percent(row.accuracy_4)
        reps.setdefault(row.owner_id, RepAccuracy(label=row.label, rows=[])).rows.append(row)
    for owner_id, rep in reps.items():
        if owner_id is None:
            rep.label = _("Unassigned")
    context = {
        "form": form,
        "query": form.query(),
        "accuracy": list(reps.values()),
        "currency": reporting_currency(),
    }
    return _panel(request, "accuracy", context)


def _percent(ratio) -> int | None:
    return None if ratio is None else int((ratio * 100).to_integral_value())
