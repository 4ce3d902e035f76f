"""What the company and contact pages share: the page with its notes panel, and adding a note."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from crm import services
from crm.forms import NoteForm


def record_page(request, template: str, context: dict, *, status: int = 200, note_form=None):
    """A company or contact page; `note_form` is the rejected note to show again, if any."""
    context = {**context, "note_form": note_form or NoteForm()}
    return render(request, template, context, status=status)


def note_create(request, subject, *, page):
    """Add the posted note to `subject` (checked writable); a bad one redraws `page`, 400."""
    form = NoteForm(request.POST)
    if not form.is_valid():
        return page(request, subject, status=400, note_form=form)
    services.note_create(acting_user=request.user, subject=subject, body=form.cleaned_data["body"])
    messages.success(request, _("Note added."))
    return redirect(subject)
