"""Settings: "New pipeline from template" (admins only). The page shows every template as a
card (its stages with their probabilities, a preview of exit criteria and follow-up
routines); choosing one, a team and a name creates the pipeline."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.selectors import settings_access
from pipeline import selectors, services
from pipeline.forms.pipeline_templates import PipelineFromTemplateForm


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_from_template(request):
    settings_access(user=request.user)
    if request.method == "POST":
        form = PipelineFromTemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                pipeline = services.pipeline_create_from_template(
                    acting_user=request.user,
                    team=data["team"],
                    template_key=data["template"],
                    name=data["name"] or None,
                )
            except services.SettingsError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                message = _("Pipeline “%(name)s” created from the template.")
                messages.success(request, message % {"name": pipeline.name})
                return redirect("settings-pipeline", pipeline.pk)
        status = 400
    else:
        chosen = request.GET.get("template", "")
        form = PipelineFromTemplateForm(initial={"template": chosen})
        status = 200
    context = {
        "form": form,
        "templates": selectors.template_list(),
        "chosen": form["template"].value(),
    }
    return render(request, "settings/pipeline_templates.html", context, status=status)
