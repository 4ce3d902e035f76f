"""Imports: the upload, and the mapping of a file's columns, stages and owners."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm.importing import headers as h
from crm.importing.values import COMMA, DAY_FIRST, DOT, MONTH_FIRST
from crm.models import ImportKind
from crm.services.import_rows import LOST, ME, NOBODY, WON
from crm.services.imports import MAX_FIRST_STEP_DAYS

AUTO = ""


class ImportUploadForm(forms.Form):
    """What to import, where to, and the file. The pipeline and team are ids: the view reads
    them through the access doors (another team's is "not found")."""

    kind = forms.ChoiceField(
        label=_("What the file holds"),
        choices=ImportKind.choices,
        widget=forms.RadioSelect,
        initial=ImportKind.DEALS,
    )
    pipeline = forms.IntegerField(label=_("Pipeline"), required=False, min_value=1)
    team = forms.IntegerField(label=_("Team"), required=False, min_value=1)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (any separator, UTF-8, UTF-16 or Windows-1252) or Excel (.xlsx)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is too large; the limit is %(limit)s MB.")
                % {"limit": round(settings.IMPORT_MAX_BYTES / 2**20, 1)}
            )
        return upload

    def clean(self):
        data = super().clean()
        if data.get("kind") == ImportKind.DEALS and not data.get("pipeline"):
            self.add_error("pipeline", _("Choose the pipeline to import the deals into."))
        return data


NUMBER_READINGS = [(AUTO, _("as the values show")), (DOT, "12,500.50"), (COMMA, "12.500,50")]
DATE_READINGS = [
    (AUTO, _("as the values show")),
    (DAY_FIRST, _("day first (31.12.2026)")),
    (MONTH_FIRST, _("month first (12/31/2026)")),
]
MAX_NAMES = 200


class ImportMappingForm(forms.Form):
    """A field per column, how number and date columns are read, what each stage and owner
    name of the file maps to, and the routine's first next step. Built for one batch: its
    headers, and the stage and owner names it shows (`stage_names`, `owner_names`); the
    names come back with the choices, so a list that changed in between is not misread."""

    routines = forms.BooleanField(
        label=_("Plan the follow-up routines of each deal’s stage"),
        required=False,
        help_text=_("As for a deal added by hand: the stage’s routines plan its first steps."),
    )
    first_step = forms.BooleanField(
        label=_("Give every imported open deal that has no next step yet a first one"),
        required=False,
    )
    first_step_subject = forms.CharField(
        label=_("Next step"), max_length=200, required=False, initial=_("Follow up")
    )
    first_step_days = forms.IntegerField(
        label=_("Due in working days"),
        min_value=0,
        max_value=MAX_FIRST_STEP_DAYS,
        required=False,
        initial=2,
    )

    def __init__(self, *args, batch, stage_targets, owner_targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch = batch
        fields = h.FIELDS[batch.kind]
        choices = [("", _("Do not import"))] + [(f.key, f.label) for f in fields]
        for index, _header in enumerate(batch.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(choices=choices, required=False)
            self.fields[f"number_{index}"] = forms.ChoiceField(
                choices=NUMBER_READINGS, required=False
            )
            self.fields[f"date_{index}"] = forms.ChoiceField(choices=DATE_READINGS, required=False)
        self.stage_target_list = stage_targets
        self.owner_target_list = owner_targets
        self.targets = {
            "stage": {str(v) for v, _label in stage_targets},
            "owner": {str(v) for v, _label in owner_targets},
        }
        self.names = {"stage": {}, "owner": {}}
        if batch.kind != ImportKind.DEALS:
            for name in ("routines", "first_step", "first_step_subject", "first_step_days"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        for prefix in ("stage", "owner"):
            self.names[prefix] = self._names(prefix)
        if data.get("first_step"):
            if not data.get("first_step_subject"):
                self.add_error("first_step_subject", _("Say what the next step is."))
            if data.get("first_step_days") is None:
                self.add_error("first_step_days", _("Say when it is due."))
        return data

    def _names(self, prefix: str) -> dict:
        """{a name in the file: its target} from the pairs `<prefix>_name_<n>` and
        `<prefix>_<n>` (an empty target: not chosen, matched automatically)."""
        chosen = {}
        for index in range(MAX_NAMES):
            name = self.data.get(f"{prefix}_name_{index}")
            if name is None:
                break
            target = self.data.get(f"{prefix}_{index}", "")
            if not target:
                continue
            if target not in self.targets[prefix] or len(name) > 254:
                raise forms.ValidationError(_("That choice is not one of those offered."))
            chosen[name] = int(target) if target.isdigit() else target
        return chosen

    def mapping(self) -> dict:
        """The mapping as `crm.services.imports.import_batch_map` takes it."""
        data = self.cleaned_data
        width = len(self.batch.headers)
        mapping = {
            "columns": [data.get(f"column_{i}") or "" for i in range(width)],
            "number_styles": {
                str(i): data[f"number_{i}"] for i in range(width) if data.get(f"number_{i}")
            },
            "date_orders": {
                str(i): data[f"date_{i}"] for i in range(width) if data.get(f"date_{i}")
            },
            "stages": self.names["stage"],
            "owners": self.names["owner"],
            "first_step": None,
            "routines": bool(data.get("routines")),
        }
        if data.get("first_step"):
            mapping["first_step"] = {
                "subject": data["first_step_subject"],
                "days": data["first_step_days"],
            }
        return mapping


def stage_targets(stages) -> list[tuple[str, str]]:
    return [(str(s.pk), s.name) for s in stages] + [
        (WON, _("Won (closed)")),
        (LOST, _("Lost (closed)")),
    ]


def owner_targets(members, *, may_leave_unassigned: bool) -> list[tuple[str, str]]:
    targets = [(ME, _("Me"))]
    if may_leave_unassigned:
        targets.append((NOBODY, _("Nobody (unassigned)")))
    return targets + [(str(u.pk), str(u)) for u in members]
