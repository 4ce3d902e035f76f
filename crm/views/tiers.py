"""Settings: ABC tier thresholds, a preview of the spread, and "Recompute now" (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import settings_access
from crm import selectors
from crm.forms import TierThresholdsForm
from crm.organisation import organisation_get
from crm.services.tiers import TierRuleError, tier_thresholds_update, tiers_recompute_enqueue


def _plain(amount):
    """100000.00 -> 100000 in the form; cents only when there are some."""
    return amount.quantize(1) if amount == amount.to_integral_value() else amount


def _page(request, form: TierThresholdsForm, *, status: int = 200):
    organisation = organisation_get()
    preview = None
    if form.is_bound and form.is_valid():
        preview = selectors.tier_preview(
            a_threshold=form.cleaned_data["a_threshold"],
            b_threshold=form.cleaned_data["b_threshold"],
        )
    elif not form.is_bound:
        preview = selectors.tier_preview(
            a_threshold=organisation.tier_a_threshold, b_threshold=organisation.tier_b_threshold
        )
    context = {
        "form": form,
        "organisation": organisation,
        "preview": preview,
        "changes": selectors.tier_changes_latest(),
    }
    template = "settings/tiers.html#preview" if request.htmx else "settings/tiers.html"
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def settings_tiers(request):
    """GET: the page (with ?a_threshold=&b_threshold= a preview at those values; htmx gets
    the preview only). POST: save the thresholds; a recompute is queued after commit."""
    settings_access(user=request.user)
    organisation = organisation_get()
    initial = {
        "a_threshold": _plain(organisation.tier_a_threshold),
        "b_threshold": _plain(organisation.tier_b_threshold),
    }
    if request.method == "GET":
        previewing = "a_threshold" in request.GET or "b_threshold" in request.GET
        form = TierThresholdsForm(request.GET if previewing else None, initial=initial)
        return _page(request, form, status=400 if previewing and not form.is_valid() else 200)
    form = TierThresholdsForm(request.POST)
    if form.is_valid():
        try:
            changed = tier_thresholds_update(acting_user=request.user, **form.cleaned_data)
        except TierRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(
                request,
                _("Thresholds saved. Every company's tier is being recomputed.")
                if changed
                else _("Nothing to save."),
            )
            return redirect("settings-tiers")
    return _page(request, form, status=400)


@login_required
@require_POST
def settings_tiers_recompute(request):
    """Queue a recompute of every tier now (it also runs every night)."""
    settings_access(user=request.user)
    if tiers_recompute_enqueue():
        messages.success(
            request, _("Recompute queued. The tiers are updated within a minute or two.")
        )
    else:
        messages.error(
            request,
            _("The job queue cannot be reached right now. Tonight's run will recompute the tiers."),
        )
    return redirect("settings-tiers")
