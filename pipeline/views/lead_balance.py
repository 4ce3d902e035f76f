"""The lead balance page (managers and admins): a team's new leads per week by salesperson
and by source, open deals against each salesperson's capacity, and the capacity set in
place (htmx answers the salesperson's row; without JavaScript the form posts and redirects)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from crm.web.refusals import form_errors_text, refusal
from pipeline import selectors, services
from pipeline.forms.lead_balance import CapacityForm, LeadBalanceFilterForm

PAGE = "pipeline/lead_balance.html"


@login_required
@require_GET
def lead_balance(request):
    teams = list(selectors.lead_balance_teams(user=request.user))
    form = LeadBalanceFilterForm(request.GET)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    team_id = form.cleaned_data["team"]
    if team_id is None and not teams:
        return render(request, PAGE, {"teams": teams, "balance": None})
    team = selectors.lead_balance_team_get(user=request.user, pk=team_id or teams[0].pk)
    balance = selectors.lead_balance_for_team(user=request.user, team=team)
    return render(request, PAGE, {"teams": teams, "balance": balance})


@login_required
@require_POST
def lead_balance_capacity(request):
    selectors.lead_balance_access(user=request.user)
    form = CapacityForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    team = selectors.lead_balance_team_get(user=request.user, pk=form.cleaned_data["team"])
    member = selectors.lead_balance_member_get(team=team, pk=form.cleaned_data["user"])
    services.rep_capacity_set(
        acting_user=request.user,
        team=team,
        user=member,
        open_deals=form.cleaned_data["open_deals"],
    )
    if request.htmx:
        balance = selectors.lead_balance_for_team(user=request.user, team=team)
        rep = next((r for r in balance.reps if r.user and r.user.pk == member.pk), None)
        if rep is None:  # not shown on the page (a manager who sells nothing): reload it
            return HttpResponseClientRedirect(reverse("lead-balance") + f"?team={team.pk}")
        context = {"balance": balance, "rep": rep, "saved": True}
        return render(request, f"{PAGE}#rep-row", context)
    messages.success(request, _("Capacity of %(user)s saved.") % {"user": member})
    return redirect(reverse("lead-balance") + f"?team={team.pk}")
