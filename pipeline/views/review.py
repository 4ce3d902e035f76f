"""The manager's weekly review (`/review/`) and the decisions taken in place on each row.

Who acts: managers of the deal's team and admins. A salesperson may open the page (it is not
in their navigation) and sees their visible deals; they may act on the rows they may edit
(their own and unassigned deals, as on the board) but not reassign or mark deals reviewed.
Every action goes through the deal's access door and a service; the row answers for itself
(htmx) with a short confirmation, and copies of the same deal in other sections refresh
themselves (static/js/review.js). Without JavaScript each action is a small page and a
redirect back to the review.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from crm.organisation import reporting_currency
from crm.web.formats import day_month_formatter, format_date
from crm.web.money import money_formatter
from crm.web.refusals import refusal
from pipeline import selectors, services
from pipeline.forms.review import (
    ReviewCloseDateForm,
    ReviewLostForm,
    ReviewMarkForm,
    ReviewNextStepForm,
    ReviewOwnerForm,
    ReviewPageForm,
    ReviewPauseForm,
    ReviewSectionPageForm,
    SectionForm,
    VersionForm,
)
from pipeline.selectors.review import ReviewClock
from pipeline.views import row_actions

# Title, what the section is for, its empty state; `attention` sends "and N more" to the
# board's needs-attention filter.
SECTION_TEXTS = {
    "closing-soon": {
        "title": gettext_lazy("Closing in the next 2 weeks"),
        "hint": gettext_lazy("Open deals expected to close within 14 days, or already overdue."),
        "empty": gettext_lazy("Nothing is expected to close in the next two weeks."),
        "attention": False,
    },
    "closing-later": {
        "title": gettext_lazy("Closing in weeks 3 and 4"),
        "hint": gettext_lazy("Open deals expected to close 15 to 28 days from today."),
        "empty": gettext_lazy("Nothing is expected to close in weeks 3 and 4."),
        "attention": False,
    },
    "stale": {
        "title": gettext_lazy("No movement"),
        "hint": gettext_lazy("Open deals that stayed in their stage longer than it allows."),
        "empty": gettext_lazy("Every deal moved recently. Nothing is rotting."),
        "attention": True,
    },
    "next-step": {
        "title": gettext_lazy("No next step, or an overdue one"),
        "hint": gettext_lazy("Every open deal needs a next step with a date."),
        "empty": gettext_lazy("Every open deal has a next step on time."),
        "attention": True,
    },
    "changes": {
        "title": gettext_lazy("Changes since last week"),
        "hint": gettext_lazy("New, moved, re-valued, slipped, won and lost since the snapshot."),
        "empty": gettext_lazy("Nothing changed since last week's snapshot."),
        "attention": False,
    },
}

PANELS = ("next-step", "owner", "close-date", "pause", "lost")


def _review_path() -> str:
    """'/review/deals/' - the prefix of every row URL, reversed once per page, not per row."""
    return reverse("review-row", args=[0]).removesuffix("0/")


def _row_context(request, deal, review, *, section: str, **extra) -> dict:
    return {
        "deal": deal,
        "key": section,
        "review": review,
        "review_path": _review_path(),
        "several_pipelines": len(review.pipelines) > 1,
        "today": review.clock.today,
        **extra,
    }


def _row_texts() -> dict[str, str]:
    """Texts with placeholders, translated once per render and filled in per row with Jinja's
    `format` (translation lookups cost more than the rest of a row)."""
    return {
        "stale_why": _("No movement for %(days)s days; this stage allows %(allowed)s"),
        "overdue_day": _("%(num)d day overdue"),
        "overdue_days": _("%(num)d days overdue"),
        "move_back_to": _("Move back to %(stage)s"),
        "paused_until": _("Paused until %(date)s"),
        "moved": _("Moved %(before)s → %(after)s"),
        "value": _("Value %(before)s → %(after)s"),
        "slipped": _("Close date slipped %(before)s → %(after)s"),
        "removed": _("Close date %(before)s removed"),
    }


def rows_html(request, rows, *, context: dict, panel_html: str = "") -> SafeString:
    """The rows of one section (or one row after an action) in a single Jinja2 render: rows
    are the page's hot path (up to 250 of them; docs/performance.md has what Django templates cost
    per card). Everything shared by the rows (texts, separators, the CSRF field, URL
    prefixes) is prepared once per render."""
    html = get_template("pipeline/review_rows.jinja", using="jinja2").render(
        {
            "rows": rows,
            "key": context["key"],
            "panel": context.get("panel", ""),
            "panel_html": panel_html,
            "message": context.get("message", ""),
            "error": context.get("error", ""),
            "review_path": context["review_path"],
            "deals_path": reverse("deal-detail", args=[0]).removesuffix("0/"),
            "several_pipelines": context["several_pipelines"],
            "csrf": csrf_input(request),  # one token for every form of the render
            "t": _row_texts(),
            "money": money_formatter(),
            "reporting_currency": reporting_currency(),
            "short": day_month_formatter(),
            "long": format_date,
        },
        request=request,
    )
    return mark_safe(html)  # Jinja2 autoescapes: every value in `html` is escaped already


@login_required
@require_GET
def review(request):
    """The weekly review of one team (`?team=<id>`; the first team the user manages)."""
    form = ReviewPageForm(request.GET)
    if not form.is_valid():
        return refusal(request, _("That team is not a valid choice."), status=400)
    teams = selectors.review_teams_for_user(user=request.user)
    team = selectors.review_team_for_user(teams=teams, team_id=form.cleaned_data["team"])
    clock = ReviewClock.current()
    page = selectors.review_for_team(user=request.user, team=team, clock=clock)
    context = _row_context(request, None, page, section="")
    sections = []
    for key in selectors.SECTIONS:
        section = page.sections[key]
        section.rows_html = rows_html(request, section.rows, context={**context, "key": key})
        sections.append((section, SECTION_TEXTS[key]))
    context = {
        **context,
        "teams": teams,
        "sections": sections,
        "progress": page,
        "week_label": format_date(clock.week),
    }
    return render(request, "pipeline/review.html", context)


@login_required
@require_GET
def review_section(request, key: str):
    """More rows of one section, a page at a time (`?team=&page=`): for htmx the rows to
    append and the next "Show more"; without JavaScript a page of its own with previous and
    next links. A page past the last shows the last one and says so."""
    if key not in selectors.SECTIONS:
        raise Http404
    form = ReviewSectionPageForm(request.GET)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return refusal(request, message or _("That page is not valid."), status=400)
    teams = selectors.review_teams_for_user(user=request.user)
    team = selectors.review_team_for_user(teams=teams, team_id=form.cleaned_data["team"])
    page = selectors.review_section_page(
        user=request.user,
        team=team,
        clock=ReviewClock.current(),
        key=key,
        number=form.cleaned_data["page"] or 1,
    )
    context = _row_context(request, None, page.review, section=key)
    rows = rows_html(request, page.section.rows, context=context)
    context |= {
        "page": page,
        "section": page.section,
        "text": SECTION_TEXTS[key],
        "rows_html": rows,
    }
    if page.clamped:
        context["clamped_message"] = _(
            "There is no page %(asked)s; this is the last page, %(last)s."
        ) % {"asked": form.cleaned_data["page"], "last": page.pages}
    template = "pipeline/review_section.html"
    if request.htmx:
        template += "#more-rows"
    return render(request, template, context)


def _section(request) -> str | None:
    form = SectionForm(request.POST if request.method == "POST" else request.GET)
    return form.cleaned_data["section"] if form.is_valid() else None


def _row(request, pk: int, *, section: str, status: int = 200, progress=None, **extra):
    """The row as it stands now (htmx), or the one-row page (no JavaScript)."""
    clock = ReviewClock.current()
    deal, review = selectors.review_row(user=request.user, pk=pk, clock=clock)
    context = _row_context(request, deal, review, section=section, **extra)
    panel_html = ""
    if context.get("panel") and context.get("form") is not None:
        panel_html = render_to_string("pipeline/review.html#review-panel", context, request)
    html = rows_html(request, [deal], context=context, panel_html=panel_html)
    if not request.htmx:
        context["row_html"] = html
        return render(request, "pipeline/review_deal.html", context, status=status)
    if progress is not None:
        html += render_to_string(
            "pipeline/review.html#review-progress",
            {"progress": progress, "oob": True},
            request=request,
        )
    response = HttpResponse(html, status=status)
    if status == 200 and extra.get("message"):
        # Other sections may show the same deal: they fetch their copy again (review.js).
        detail = {"deal": deal.pk, "row": f"review-{section}-{deal.pk}", "target": "body"}
        trigger_client_event(response, "review:changed", detail, after="settle")
    return response


def _done(request, deal, *, section: str, message: str, progress=None):
    if request.htmx:
        return _row(request, deal.pk, section=section, message=message, progress=progress)
    messages.success(request, message)
    url = f"{reverse('review')}?team={deal.pipeline.team_id}#review-{section}-{deal.pk}"
    return redirect(url)


CONFLICT = gettext_lazy(
    "Someone else changed this deal a moment ago. The row shows it as it is now and nothing "
    "was saved. Check it, then save again."
)


def _action(request, pk: int, *, panel: str, make_form, perform, manager_only: bool = False):
    """The shape of every row action: the access door (404 / 403), the section, a form
    (GET opens it in the row), one service call in `perform`, the row again."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    if manager_only and not selectors.can_reassign_deal(user=request.user, deal=deal):
        raise PermissionDenied
    section = _section(request)
    if section is None:
        return refusal(request, _("That request was not understood."), status=400)
    if request.method == "GET":
        form = make_form(None, deal, {"version": deal.version})
        return _row(request, pk, section=section, panel=panel, form=form)
    form = make_form(request.POST, deal, None)
    if not form.is_valid():
        return _row(request, pk, section=section, panel=panel, form=form, status=400)
    try:
        message = perform(deal, form.cleaned_data)
    except services.DealConflict as conflict:
        # Keep what the user typed, with the version now saved, so saving again is deliberate.
        data = request.POST.copy()
        data["version"] = conflict.current.version
        again = make_form(data, deal, None)
        again.is_valid()
        panel_after = panel if panel in PANELS else ""
        return _row(
            request, pk, section=section, panel=panel_after, form=again, error=CONFLICT, status=409
        )
    except services.DealRuleError as error:
        return _row(
            request, pk, section=section, panel=panel, form=form, error=str(error), status=400
        )
    return _done(request, deal, section=section, message=message)


def _check_version(deal, version: int) -> None:
    """For actions whose service takes no version (planning a next step only adds an
    activity): still tell the user when their row is out of date."""
    if version != deal.version:
        raise services.DealConflict(deal)


@login_required
@require_GET
def review_row(request, pk: int):
    """A row as it stands (Cancel, and copies refreshing after a change elsewhere)."""
    section = _section(request)
    if section is None:
        return refusal(request, _("That request was not understood."), status=400)
    return _row(request, pk, section=section)


@login_required
@require_http_methods(["GET", "POST"])
def review_next_step(request, pk: int):
    def make_form(data, deal, initial):
        return ReviewNextStepForm(data, deal=deal, acting_user=request.user, initial=initial)

    def perform(deal, data):
        _check_version(deal, data["version"])
        activity = services.activity_create(
            acting_user=request.user,
            deal=deal,
            kind=data["kind"],
            subject=data["subject"],
            due_date=data["due_date"],
            assignee=data["assignee"],
        )
        return _("Next step planned: %(subject)s.") % {"subject": activity.subject}

    return _action(request, pk, panel="next-step", make_form=make_form, perform=perform)


@login_required
@require_http_methods(["GET", "POST"])
def review_owner(request, pk: int):
    def make_form(data, deal, initial):
        if initial is not None:
            initial["owner"] = deal.owner_id
        return ReviewOwnerForm(data, deal=deal, initial=initial)

    def perform(deal, data):
        saved = row_actions.update(request.user, deal, data, owner=data["owner"])
        if saved.owner is None:
            return _("The deal is now unassigned.")
        return _("Given to %(owner)s.") % {"owner": saved.owner}

    return _action(
        request, pk, panel="owner", make_form=make_form, perform=perform, manager_only=True
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_close_date(request, pk: int):
    def make_form(data, deal, initial):
        if initial is not None:
            initial["date"] = deal.expected_close_date
        return ReviewCloseDateForm(data, deal=deal, initial=initial)

    def perform(deal, data):
        saved = row_actions.update(
            request.user, deal, data, expected_close_date=data["expected_close_date"]
        )
        day = format_date(saved.expected_close_date)
        return _("Close date moved to %(date)s.") % {"date": day}

    return _action(request, pk, panel="close-date", make_form=make_form, perform=perform)


@login_required
@require_http_methods(["GET", "POST"])
def review_pause(request, pk: int):
    def make_form(data, deal, initial):
        if initial is not None:
            initial["until"] = timezone.localdate() + timedelta(days=30)
        return ReviewPauseForm(data, initial=initial)

    perform = partial(row_actions.pause, request.user)
    return _action(request, pk, panel="pause", make_form=make_form, perform=perform)


@login_required
@require_http_methods(["GET", "POST"])
def review_lost(request, pk: int):
    def make_form(data, deal, initial):
        return ReviewLostForm(data, initial=initial)

    def perform(deal, data):
        services.deal_mark_lost(
            acting_user=request.user,
            deal=deal,
            version=data["version"],
            reason=data["reason"],
            note=data["note"],
        )
        return _("Marked as lost: %(reason)s.") % {"reason": data["reason"]}

    return _action(request, pk, panel="lost", make_form=make_form, perform=perform)


@login_required
@require_POST
def review_move_back(request, pk: int):
    def make_form(data, deal, initial):
        return VersionForm(data, initial=initial)

    perform = partial(row_actions.move_back, request.user)
    return _action(request, pk, panel="", make_form=make_form, perform=perform)


@login_required
@require_POST
def review_mark(request, pk: int):
    """Mark a deal reviewed this week (or not): managers of its team and admins. The progress
    line is answered out of band."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk)
    if not selectors.can_manage_pipeline(user=request.user, pipeline=deal.pipeline):
        raise PermissionDenied
    section = _section(request)
    form = ReviewMarkForm(request.POST)
    if section is None or not form.is_valid():
        return refusal(request, _("That request was not understood."), status=400)
    clock = ReviewClock.current()
    reviewed = services.deal_review_mark(
        acting_user=request.user,
        deal=deal,
        week=clock.today,
        reviewed=form.cleaned_data["reviewed"],
    )
    message = _("Reviewed.") if reviewed else _("Marked as not reviewed.")
    progress = None
    if request.htmx:
        progress = selectors.review_progress(
            user=request.user, team=deal.pipeline.team, clock=clock
        )
    return _done(request, deal, section=section, message=message, progress=progress)
