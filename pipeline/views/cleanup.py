"""The managers' clean-up list (`/cleanup/`): open deals past their pipeline's qualification
stage that lack a qualification fact, with the fix in place: tick the fact, pause the deal,
or move it back a stage.

Who: managers (the teams they manage) and admins; salespeople get 403. Each action goes
through the deal's access door (404 for another team's deal), needs manager rights on its
team (403), validates its form (400) and calls one service. htmx gets the row back with a
short confirmation; without JavaScript, a redirect to the list with a message.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.web.refusals import form_refusal, refusal
from pipeline import selectors, services
from pipeline.forms.cleanup import FACT_LABELS, CleanupFactForm, CleanupPauseForm, VersionForm
from pipeline.views import row_actions


def _context(**extra) -> dict:
    return {"fact_labels": FACT_LABELS, **extra}


@login_required
@require_GET
def cleanup(request):
    selectors.cleanup_access(user=request.user)
    page = selectors.cleanup_for_user(user=request.user)
    return render(request, "pipeline/cleanup.html", _context(cleanup=page))


def _row(request, pk: int, *, message: str = "", error: str = "", status: int = 200):
    deal = selectors.cleanup_row(user=request.user, pk=pk)
    context = _context(deal=deal, message=message, error=error)
    return render(request, "pipeline/cleanup.html#row", context, status=status)


def _action(request, pk: int, form_class, perform):
    """The shape of every row action: the door (404/403), the form (400), one service, the
    row again (htmx) or the list (plain)."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    if not selectors.can_manage_pipeline(user=request.user, pipeline=deal.pipeline):
        raise PermissionDenied
    form = form_class(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    try:
        message = perform(deal, form.cleaned_data)
    except services.DealConflict:
        message = _("Someone else changed this deal a moment ago. Nothing was saved.")
        if request.htmx:
            return _row(request, pk, error=message, status=409)
        messages.error(request, message)
        return redirect("cleanup")
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    if request.htmx:
        return _row(request, pk, message=message)
    messages.success(request, message)
    return redirect(f"{reverse('cleanup')}#cleanup-{pk}")


@login_required
@require_POST
def cleanup_fact(request, pk: int):
    def perform(deal, data):
        row_actions.update(request.user, deal, data, **{data["fact"]: True})
        return _("%(fact)s: recorded.") % {"fact": FACT_LABELS[data["fact"]]}

    return _action(request, pk, CleanupFactForm, perform)


@login_required
@require_POST
def cleanup_pause(request, pk: int):
    return _action(request, pk, CleanupPauseForm, partial(row_actions.pause, request.user))


@login_required
@require_POST
def cleanup_move_back(request, pk: int):
    return _action(request, pk, VersionForm, partial(row_actions.move_back, request.user))
