"""Activities (a deal's next steps) and the user's own list of next steps."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    trigger_client_event,
)

from crm.web.refusals import refusal
from pipeline import selectors, services
from pipeline.forms.activities import ActivityForm
from pipeline.models import DealStatus
from pipeline.selectors.board import BoardFilters
from pipeline.views.columns import board_filters, columns_response
from pipeline.views.deals import deal_column_and_close_modal

# Where an activity form or a "Done" was used, so the answer fits the page: the board gets
# its column back, "My next steps" its list, the deal page a reload.
ACTIVITY_ORIGINS = ("board", "next-steps", "deal")


def _origin(request) -> str:
    origin = (request.POST or request.GET).get("from", "")
    return origin if origin in ACTIVITY_ORIGINS else "deal"


def _activity_form_response(request, *, deal, form, action, heading, origin, done=None, status=200):
    context = {
        "deal": deal,
        "form": form,
        "action": action,
        "heading": heading,
        "origin": origin,
        "done": done,
        "is_modal": bool(request.htmx),
    }
    template = "pipeline/activity_form.html" if request.htmx else "pipeline/activity_page.html"
    return render(request, template, context, status=status)


def _after_activity_saved(request, deal, *, origin: str, message: str):
    """The answer to a saved next step: the card's column (board), the list (My next steps)
    or the deal page, and the modal closed."""
    if request.htmx and origin == "board":
        return deal_column_and_close_modal(request, deal, message=message)
    if request.htmx and origin == "next-steps":
        response = render(
            request,
            "pipeline/my_next_steps.html#groups-refresh",
            {"steps": _my_next_steps(request), "toast": message},
        )
        return trigger_client_event(response, "modal:close", after="settle")
    messages.success(request, message)
    target = reverse("my-next-steps") if origin == "next-steps" else deal.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def activity_create(request, pk: int):
    """Plan a next step on a deal: a modal from the board or the deal page, or a page."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    origin = _origin(request)
    form = ActivityForm(request.POST or None, deal=deal, acting_user=request.user)
    kwargs = {
        "deal": deal,
        "form": form,
        "action": reverse("activity-create", args=[deal.pk]),
        "heading": _("Plan the next step"),
        "origin": origin,
    }
    if request.method == "GET":
        return _activity_form_response(request, **kwargs)
    if not form.is_valid():
        return _activity_form_response(request, status=400, **kwargs)
    try:
        activity = services.activity_create(
            acting_user=request.user, deal=deal, **form.cleaned_data
        )
    except services.DealRuleError as error:
        form.add_error(None, str(error))
        return _activity_form_response(request, status=400, **kwargs)
    message = _("Next step planned: %(subject)s.") % {"subject": activity.subject}
    return _after_activity_saved(request, deal, origin=origin, message=message)


@login_required
@require_http_methods(["GET", "POST"])
def activity_update(request, pk: int):
    """Change an open activity (what, who, when). Needs the right to edit its deal."""
    activity = selectors.activity_get_for_user(user=request.user, pk=pk)
    deal = selectors.deal_get_for_user(user=request.user, pk=activity.deal_id, write=True)
    origin = _origin(request)
    form = ActivityForm(
        request.POST or None, instance=activity, deal=deal, acting_user=request.user
    )
    kwargs = {
        "deal": deal,
        "form": form,
        "action": reverse("activity-update", args=[activity.pk]),
        "heading": _("Change the next step"),
        "origin": origin,
    }
    if activity.is_done:
        return refusal(request, _("This activity is already done."), status=400)
    if request.method == "GET":
        return _activity_form_response(request, **kwargs)
    if not form.is_valid():
        return _activity_form_response(request, status=400, **kwargs)
    try:
        services.activity_update(
            acting_user=request.user, activity=activity, data=form.cleaned_data
        )
    except services.DealRuleError as error:
        form.add_error(None, str(error))
        return _activity_form_response(request, status=400, **kwargs)
    message = _("Next step saved.")
    return _after_activity_saved(request, deal, origin=origin, message=message)


@login_required
@require_POST
def activity_complete(request, pk: int):
    """Mark an activity done (its assignee may, as may whoever edits the deal) and ask for the
    following step: htmx gets the "What's the next step?" form for the modal, with the card's
    column or the list row refreshed out of band; without JavaScript, the deal page."""
    activity = selectors.activity_get_for_user(user=request.user, pk=pk, write=True)
    deal = activity.deal
    origin = _origin(request)
    try:
        services.activity_complete(acting_user=request.user, activity=activity)
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    message = _("Done: %(subject)s.") % {"subject": activity.subject}
    if not request.htmx:
        messages.success(request, message)
        if origin == "next-steps":
            return redirect("my-next-steps")
        return redirect(deal)
    can_plan = selectors.can_edit_deal(user=request.user, deal=deal)
    deal = selectors.deal_get_for_user(user=request.user, pk=deal.pk)
    # Ask for the following step only when the deal is left without one and the user may plan.
    ask = (
        can_plan
        and deal.next_step_id is None
        and deal.status in (DealStatus.OPEN, DealStatus.PAUSED)
    )
    if origin == "board":
        filters = board_filters(request, deal.pipeline, request.POST) or BoardFilters()
        after = columns_response(
            request,
            pipeline=deal.pipeline,
            stages=[deal.stage],
            filters=filters,
            cards_for={deal.stage_id},
            toast="" if ask else message,
        ).content.decode()
    elif origin == "next-steps":
        after = render_to_string(
            "pipeline/my_next_steps.html#step-done",
            {"activity": activity, "deal": deal, "can_plan": ask, "oob": True},
            request=request,
        )
    else:
        messages.success(request, message)
        if not ask:
            return HttpResponseClientRedirect(deal.get_absolute_url())
        after = ""
    if not ask:
        return HttpResponse(after)
    form = ActivityForm(
        deal=deal,
        acting_user=request.user,
        initial={"kind": activity.kind, "assignee": activity.assignee_id or deal.owner_id},
    )
    response = _activity_form_response(
        request,
        deal=deal,
        form=form,
        action=reverse("activity-create", args=[deal.pk]),
        heading=_("What's the next step?"),
        origin=origin,
        done=activity,
    )
    response.content = response.content + after.encode()
    return response


def _my_next_steps(request) -> selectors.NextSteps:
    return selectors.next_steps_for_user(user=request.user, today=timezone.localdate())


@login_required
@require_GET
def my_next_steps(request):
    """The signed-in user's open activities: overdue, today, this week, later."""
    return render(request, "pipeline/my_next_steps.html", {"steps": _my_next_steps(request)})
