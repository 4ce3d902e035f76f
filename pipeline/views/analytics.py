"""The pipeline analytics pages: funnel, time in stage, reps by stage, loss analysis and
velocity, each with its filters in the query string, a CSV and an XLSX export of the same rows
(`?export=csv`, `?export=xlsx`, written by crm/web/exports.py) and drill-down to the deals
behind a figure. Money is in the organisation's reporting currency. Definitions:
pipeline/selectors/analytics.py.

Every page costs a fixed number of queries whatever the number of deals
(tests/pipeline/views/test_analytics.py).
"""

from __future__ import annotations

import hashlib
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.organisation import reporting_currency
from crm.replica import reads_from_replica
from crm.shared import version
from crm.web.exports import FORMATS, Days, Percent, export_response
from crm.web.formats import format_date
from crm.web.refusals import form_refusal, refusal
from pipeline import charts_analytics
from pipeline.forms.analytics import BASIS_CHOICES, AnalyticsFilterForm, DrillDownForm
from pipeline.models import Deal
from pipeline.money import money_key, round_cents
from pipeline.selectors.analytics import (
    BUCKETS,
    SMALL_SAMPLE,
    funnel,
    loss_analysis,
    months_between,
    reps_by_stage,
    stage_entry_deals,
    time_in_stage,
    velocity,
    velocity_trend,
)
from pipeline.services.analytics import analytics_refresh_if_stale

DRILL_DOWN_LIMIT = 500
PAGES = [
    ("analytics-funnel", "funnel"),
    ("analytics-time-in-stage", "time"),
    ("analytics-reps", "reps"),
    ("analytics-losses", "losses"),
    ("analytics-velocity", "velocity"),
]


def _form(request) -> AnalyticsFilterForm:
    return AnalyticsFilterForm(request.GET, user=request.user, today=timezone.localdate())


def _export_requested(request) -> str | None:
    """ "csv" or "xlsx" for `?export=...`, "" without it, None for anything else (refused)."""
    value = request.GET.get("export", "")
    return value if value in ("", *FORMATS) else None


def _money_header(label: str) -> str:
    return f"{label} ({reporting_currency()})"


def _context(form: AnalyticsFilterForm, page: str, **extra) -> dict:
    url = reverse(dict((p, n) for n, p in PAGES).get(page, "analytics-funnel"))
    return {
        "form": form,
        "page": page,
        "page_url": url,
        "query": form.query(),
        "export_url": f"{url}?{form.query(export='csv')}",
        "export_xlsx_url": f"{url}?{form.query(export='xlsx')}",
        "basis_choices": BASIS_CHOICES,
        "small_sample": SMALL_SAMPLE,
        "currency": reporting_currency(),
        "tabs": [(reverse(n), p, f"{reverse(n)}?{form.query()}") for n, p in PAGES],
        "as_of": getattr(form, "as_of", None),
        "preparing": hasattr(form, "as_of") and form.as_of is None,
        **extra,
    }


def _figures(request, form, page: str, filters, compute):
    """The page's figures, computed once per change of the stage visits (`form.version`, the
    last refresh that changed anything), page, filters, visibility, language, day and money
    (the reporting currency and the money version, which every change of the currency or of
    an exchange rate moves on: `pipeline.money.money_key`), the names the settings and user
    services announce (`crm.shared` version `labels`), then read from the shared cache (the
    same figures for every process and node) for up to ANALYTICS_CACHE_SECONDS (which bounds
    what no write announces: running stays growing); 0 turns the cache off."""
    if not settings.ANALYTICS_CACHE_SECONDS:
        return compute()
    visible = str(Deal.objects.visible_to(request.user).query)
    raw = "|".join(
        [
            page,
            form.version.isoformat(),
            money_key(),
            version("labels"),  # names and order of stages, reasons, people, teams
            timezone.localdate().isoformat(),  # a rate dated today takes effect today
            get_language() or "",
            repr(filters),
            visible,
        ]
    )
    key = "analytics:" + hashlib.sha256(raw.encode()).hexdigest()
    figures = cache.get(key)
    if figures is None:
        figures = compute()
        cache.set(key, figures, settings.ANALYTICS_CACHE_SECONDS)
    return figures


def _drill_url(form, stage_id, *, rep=None, outcome=None) -> str:
    query = form.query(stage=stage_id, cell_rep=rep, outcome=outcome, sort=None)
    return f"{reverse('analytics-deals')}?{query}"


def _validated(request):
    """(form, export) or a 400 response."""
    form = _form(request)
    export = _export_requested(request)
    if export is None:
        return None, refusal(request, _("Unknown export format."), status=400)
    if not form.is_valid():
        return None, form_refusal(request, form)
    # The stage visits the pages count on, refreshed first when older than a minute.
    form.as_of, form.version = analytics_refresh_if_stale()
    # Running stays are measured to the refresh the figures are exact as of.
    form.now = form.as_of or timezone.now()
    return (form, export), None


def _analytics_page(request, page, *, compute, export_rows, extra, per_pipeline=True):
    """The shape every analytics page shares: the filters validated (400 on a bad one), the
    page's figures (`compute(form, filters, pipeline)`, cached by `_figures`), then either
    `?export=` as a download of `export_rows(form, figures)` (the header first) or the page
    with `extra(form, figures)` in its context. A per-pipeline page counts in the chosen
    pipeline and has no figures (None) when the user sees none; the others count in all."""
    valid, refused = _validated(request)
    if refused:
        return refused
    form, export = valid
    url_name = dict((p, n) for n, p in PAGES)[page]
    context = {}
    if per_pipeline:
        context["pipeline"] = pipeline = form.chosen_pipeline
        filters = form.filters(pipeline=pipeline)
    else:
        pipeline, filters = None, form.filters()
    figures = (
        _figures(request, form, page, filters, lambda: compute(form, filters, pipeline))
        if pipeline or not per_pipeline
        else None
    )
    if export:
        return export_response(export, name=url_name, rows=export_rows(form, figures))
    context.update(extra(form, figures))
    template = url_name.removeprefix("analytics-").replace("-", "_")
    return render(request, f"pipeline/analytics/{template}.html", _context(form, page, **context))


# --- views ---------------------------------------------------------------------------------


@login_required
@require_GET
@reads_from_replica
def analytics_funnel(request):
    return _analytics_page(
        request,
        "funnel",
        compute=lambda form, filters, pipeline: funnel(
            user=form.user, filters=filters, pipeline=pipeline
        ),
        export_rows=_funnel_export,
        extra=_funnel_extra,
    )


def _funnel_export(form, rows):
    yield [
        _("Stage"),
        _("Entered"),
        _("Moved on"),
        _("Lost here"),
        _("Still here"),
        _("Won"),
        _("Conversion %"),
        _("Entry to won %"),
        _("Biggest drop"),
    ]
    for r in rows or []:
        yield [
            r.stage.name,
            r.entered,
            r.moved_on,
            r.lost,
            r.still_here,
            r.won,
            Percent(r.conversion),
            Percent(r.to_won),
            "x" if r.is_biggest_drop else None,
        ]


def _funnel_extra(form, rows) -> dict:
    rows = rows or []
    for r in rows:
        r.url = _drill_url(form, r.stage.pk)
        r.lost_url = _drill_url(form, r.stage.pk, outcome="lost")
        r.here_url = _drill_url(form, r.stage.pk, outcome="here")
    chart = charts_analytics.funnel_chart(rows, urls=[r.url for r in rows])
    return {"rows": rows, "chart": chart}


@login_required
@require_GET
@reads_from_replica
def analytics_time_in_stage(request):
    return _analytics_page(
        request,
        "time",
        # Running stays are measured to the refresh the figures are computed at.
        compute=lambda form, filters, pipeline: time_in_stage(
            user=form.user, filters=filters, pipeline=pipeline, now=form.now
        ),
        export_rows=_time_export,
        extra=_time_extra,
    )


def _time_export(form, rows):
    yield [
        _("Stage"),
        _("Stays"),
        _("Still running"),
        _("Median days"),
        _("80th percentile days"),
        _("Rot days"),
        _("Slowest"),
    ]
    for r in rows or []:
        yield [
            r.stage.name,
            r.stays,
            r.open_stays,
            Days(r.median),
            Days(r.p80),
            r.stage.rot_days,
            "x" if r.is_slowest else None,
        ]


def _time_extra(form, rows) -> dict:
    rows = rows or []
    for r in rows:
        r.chart = charts_analytics.histogram(r.buckets, buckets=BUCKETS)
        r.url = _drill_url(form, r.stage.pk)
    return {"rows": rows}


REP_SORTS = {
    "rep": lambda r: (r.owner_id is None, r.label.lower()),
    "win_rate": lambda r: -(r.win_rate or -1),
    "average_won": lambda r: -(r.average_won or -1),
    "cycle": lambda r: r.cycle_days if r.cycle_days is not None else float("inf"),
    "velocity": lambda r: -(r.open_count * (r.win_rate or 0)),
}


@login_required
@require_GET
@reads_from_replica
def analytics_reps(request):
    return _analytics_page(
        request,
        "reps",
        compute=lambda form, filters, pipeline: reps_by_stage(
            user=form.user,
            filters=filters,
            pipeline=pipeline,
            now=form.now,
            unassigned=_("Unassigned"),
        ),
        export_rows=lambda form, matrix: _reps_rows(_sorted_reps(form, matrix)),
        extra=lambda form, matrix: _reps_extra(form, _sorted_reps(form, matrix)),
    )


def _sorted_reps(form, matrix):
    """The matrix (cached, shared) in the order asked for, with the team row named."""
    if matrix:
        matrix.rows.sort(key=REP_SORTS[form.cleaned_data["sort"]])
        matrix.team.label = _("Team")
    return matrix


def _reps_extra(form, matrix) -> dict:
    if matrix:
        for row in matrix.rows:
            rep = "none" if row.owner_id is None else row.owner_id
            for cell in row.cells:
                cell.url = _drill_url(form, cell.stage.pk, rep=rep)
    sort_links = [
        (
            label,
            f"{reverse('analytics-reps')}?{form.query(sort=value)}",
            value == form.cleaned_data["sort"],
        )
        for value, label in form.fields["sort"].choices
    ]
    return {"matrix": matrix, "sort_links": sort_links}


def _reps_rows(matrix):
    stages = matrix.stages if matrix else []
    header = [_("Rep")]
    for stage in stages:
        header += [
            f"{stage.name}: " + _("entered"),
            f"{stage.name}: " + _("moved on"),
            f"{stage.name}: " + _("conversion %"),
            f"{stage.name}: " + _("median days"),
        ]
    header += [
        _("Won"),
        _("Lost"),
        _("Win rate %"),
        _money_header(_("Average won value")),
        _("Sales cycle days"),
    ]
    yield header
    if not matrix:
        return
    for row in [*matrix.rows, matrix.team]:
        line = [row.label]
        for cell in row.cells:
            line += [
                cell.entered,
                cell.moved_on,
                Percent(cell.conversion),
                Days(cell.median_days),
            ]
        line += [
            row.won,
            row.lost,
            Percent(row.win_rate),
            row.average_won,
            Days(row.cycle_days),
        ]
        yield line


@login_required
@require_GET
@reads_from_replica
def analytics_losses(request):
    return _analytics_page(
        request,
        "losses",
        compute=lambda form, filters, pipeline: loss_analysis(
            user=form.user, filters=filters, no_reason=_("No reason given")
        ),
        export_rows=_losses_export,
        extra=_losses_extra,
        per_pipeline=False,
    )


def _loss_reasons(analysis) -> list:
    """The reasons, most losses first."""
    return sorted(
        analysis.by_reason, key=lambda r: (-analysis.by_reason[r].count, analysis.reasons[r])
    )


def _losses_export(form, analysis):
    yield [
        _("Pipeline"),
        _("Stage lost from"),
        _("Reason"),
        _("Lost deals"),
        _money_header(_("Lost value")),
        _("Average days to loss"),
    ]
    reasons = _loss_reasons(analysis)
    for group in analysis.stage_groups:
        for s, name in group.stages:
            for r in reasons:
                if cell := analysis.by_reason_stage.get((r, s)):
                    yield [
                        group.pipeline,
                        name,
                        analysis.reasons[r],
                        cell.count,
                        cell.value,
                        Days(cell.days),
                    ]


def _losses_extra(form, analysis) -> dict:
    reasons = _loss_reasons(analysis)
    stages = analysis.stage_order  # grouped by pipeline, each in its stage order
    matrix = [
        (
            analysis.reasons[r],
            analysis.by_reason[r],
            [analysis.by_reason_stage.get((r, s)) for s in stages],
            [analysis.by_reason_month.get((r, m)) for m in analysis.months],
        )
        for r in reasons
    ]
    top = [(analysis.stages[s], analysis.by_stage[s], analysis.top_reasons(s)) for s in stages]
    return {
        "analysis": analysis,
        "matrix": matrix,
        "stage_groups": analysis.stage_groups,
        "grouped": len(analysis.stage_groups) > 1,
        "group_starts": _group_starts(analysis.stage_groups),
        "stage_totals": [analysis.by_stage[s] for s in stages],
        "month_totals": [analysis.by_month[m] for m in analysis.months],
        "top": top,
    }


def _group_starts(groups) -> set[int]:
    """The column indexes where a pipeline's stages begin (a rule is drawn there)."""
    starts, index = set(), 0
    for group in groups:
        starts.add(index)
        index += len(group.stages)
    return starts


def _months(filters) -> list:
    return months_between(filters.start, filters.end)


@login_required
@require_GET
@reads_from_replica
def analytics_velocity(request):
    return _analytics_page(
        request,
        "velocity",
        compute=lambda form, filters, pipeline: (
            *velocity(user=form.user, filters=filters, unassigned=_("Unassigned")),
            velocity_trend(user=form.user, filters=filters, months=_months(filters)),
        ),
        export_rows=_velocity_export,
        extra=_velocity_extra,
        per_pipeline=False,
    )


def _velocity_export(form, figures):
    teams, reps, _total, _trend = figures
    yield [
        _("Team or rep"),
        _("Open deals"),
        _("Won"),
        _("Lost"),
        _("Win rate %"),
        _money_header(_("Average won value")),
        _("Sales cycle days"),
        _money_header(_("Velocity per day")),
    ]
    for v in [*teams, *reps]:
        yield [
            v.label,
            v.open_count,
            v.won,
            v.lost,
            Percent(v.win_rate),
            None if v.average_won is None else round_cents(v.average_won),
            Days(v.cycle_days),
            v.per_day,
        ]


def _velocity_extra(form, figures) -> dict:
    teams, reps, total, trend = figures
    labels = [format_date(date(m.year, m.month, 1), "yMMM") for m in _months(form.filters())]
    return {
        "teams": teams,
        "reps": reps,
        "total": total,
        "trend": list(zip(labels, trend, strict=True)),
        "chart": charts_analytics.velocity_trend_chart(trend, labels=labels),
    }


@login_required
@require_GET
@reads_from_replica
def analytics_deals(request):
    """The deals behind a funnel stage or a rep x stage cell."""
    form = _form(request)
    if not form.is_valid():
        return form_refusal(request, form)
    cell_form = DrillDownForm(request.GET, filter_form=form)
    if not cell_form.is_valid():
        return form_refusal(request, cell_form)
    cell = cell_form.cleaned_data
    stage, rep = cell["stage"], cell["cell_rep"]
    deals = list(
        stage_entry_deals(
            user=request.user,
            filters=form.filters(pipeline=form.chosen_pipeline),
            stage=stage,
            owner_id=int(rep) if rep.isdigit() else None,
            by_owner=bool(rep),
            outcome=cell["outcome"],
        )[: DRILL_DOWN_LIMIT + 1]
    )
    rep_label = next(
        (str(u) for u in form.reps if str(u.pk) == rep), _("Unassigned") if rep else ""
    )
    context = _context(
        form,
        "deals",
        stage=stage,
        rep_label=rep_label,
        outcome=dict(cell_form.fields["outcome"].choices)[cell["outcome"]],
        deals=deals[:DRILL_DOWN_LIMIT],
        truncated=len(deals) > DRILL_DOWN_LIMIT,
        limit=DRILL_DOWN_LIMIT,
    )
    return render(request, "pipeline/analytics/deals.html", context)
