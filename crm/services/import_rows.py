"""The import engine: every row of a file matched, decided and (unless it is a dry run)
written, in chunks, without a query per row.

`ImportRun(settings, dry_run=...).execute(table)` reads the rows (`crm.importing.records`),
and for each chunk of `CHUNK_ROWS`:

1. reads every row and resolves what needs no database: owner and stage names (the user's
   mapping, else by name among the team's members and the pipeline's stages);
2. matches against what exists, with one query per chunk at most: companies on their web
   domain, then on their folded name (`crm.matching`, against an index of the team's
   companies built once per run); contacts on their e-mail, else on their name within the
   company; deals on the source system's record id (`Deal.source_system/source_id`), or, for
   our own export, on the deal's id;
3. decides per row: create, update (only what differs; an empty cell never erases), leave
   unchanged, or leave out with the problems found (by row and column);
4. writes in bulk: companies, contacts, then deals through `pipeline.services.imports`.

A dry run (the preview) does steps 1-3 with the same code and writes nothing, so what it
says is what the import will do. Rows that repeat a record earlier in the file (the same
company twice in a companies file, the same deal id twice) are left out, with the row they
repeat named.

Permissions (docs/product.md: import into your own teams' pipelines, anywhere for an admin)
are checked by `crm.services.imports` before a run; here, per row: records are matched only
among those the user can see in the batch's team, an existing record is updated only if the
user may change it, and owners are the team's members (a salesperson owns the rows whose
owner is not a colleague; only a manager or an admin changes the owner of an existing deal).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.access import access_for
from accounts.models import Team, User
from crm.bulk import bulk_insert
from crm.importing import headers as h
from crm.importing.errors import ERROR, WARNING, Problem
from crm.importing.files import Table
from crm.importing.records import (
    STATUS_WORDS,
    ColumnReading,
    FileProfile,
    RowReader,
    column_readings,
    display,
)
from crm.matching import company_name_key, web_host_key
from crm.models import Company, Contact
from crm.organisation import organisation_get, organisation_zone
from pipeline.models import Currency, Deal, DealStatus, LostReason, Pipeline, Stage
from pipeline.selectors.exports import install_source
from pipeline.services.imports import DealBulkWriter, FirstStep, NewDeal

CHUNK_ROWS = 1000
PREVIEW_ROWS = 20
MAX_PROBLEMS = 1000

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
SKIP = "skip"

# Stage mapping values besides a stage's id: the deal is closed (no stage of ours says so).
WON = "won"
LOST = "lost"
# Owner mapping values besides a user's id.
ME = "me"
NOBODY = "none"


@functools.lru_cache(maxsize=1024)
def country_code(text: str) -> str:
    """The ISO code of a country written as a code ("DK", "DNK") or a name in one of the
    CRM's languages ("Denmark", "Danmark", "Dänemark"); "" when none fits."""
    raw = text.strip()
    if raw.isalpha() and len(raw) in (2, 3):
        code = countries.alpha2(raw)
        if code:
            return code
    for language in ("en", "da", "nb", "sv", "de"):
        code = countries.by_name(raw, language=language)
        if code:
            return code
    return ""


# --- what a run is given and what it answers -------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs besides the file, from a batch or the command line."""

    kind: str
    acting_user: User
    team: Team
    pipeline: Pipeline | None
    headers: list[str]
    profile: FileProfile
    columns: list[str]  # a field key per column ("" ignores it)
    source_system: str = h.FILE
    number_styles: dict[int, str] = field(default_factory=dict)
    date_orders: dict[int, str] = field(default_factory=dict)
    stages: dict[str, int | str] = field(default_factory=dict)  # file name -> id, WON, LOST
    owners: dict[str, int | str] = field(default_factory=dict)  # file name -> id, ME, NOBODY
    first_step: FirstStep | None = None
    apply_routines: bool = False  # plan each new deal's stage's follow-up routines
    batch_id: int | None = None


@dataclass
class PreviewRow:
    row: int
    action: str
    cells: list[str]
    problems: dict[str, str]  # column name -> message
    note: str = ""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    related: Counter = field(default_factory=Counter)  # "companies"/"contacts" created
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    preview: list[PreviewRow] = field(default_factory=list)
    readings: list[ColumnReading] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped

    def add_problems(self, problems: list[Problem]) -> None:
        self.problem_count += len(problems)
        room = MAX_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(problems[:room])

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "related_created": dict(self.related),
            "problem_count": self.problem_count,
            "errors": [p.as_dict() for p in self.problems if p.severity == ERROR],
            "warnings": [p.as_dict() for p in self.problems if p.severity == WARNING],
        }


# --- owners and stages -----------------------------------------------------------------------


class Owners:
    """Owner names and e-mails of a file resolved among the team's active members."""

    def __init__(self, settings: RunSettings):
        self.acting_user = settings.acting_user
        self.chosen = settings.owners
        self.members: dict[int, User] = {
            u.pk: u
            for u in User.objects.filter(
                is_active=True, memberships__team_id=settings.team.pk
            ).distinct()
        }
        self.by_key: dict[str, int] = {}
        self._cache: dict[str, tuple[int | None, bool]] = {}
        for user in self.members.values():
            for key in (user.email, user.get_full_name(), user.username):
                if key:
                    self.by_key.setdefault(key.casefold().strip(), user.pk)

    def auto(self, text: str) -> int | None:
        return self.by_key.get(" ".join(text.casefold().split()))

    def resolve(self, text: str) -> tuple[int | None, bool]:
        """(the owner's id or None for unassigned, whether the name was understood). A name
        that is not a member's goes to the acting user."""
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._resolve(text)
        return found

    def _resolve(self, text: str) -> tuple[int | None, bool]:
        choice = self.chosen.get(text)
        if choice == NOBODY:
            return None, True
        if choice == ME:
            return self.acting_user.pk, True
        if isinstance(choice, int) and choice in self.members:
            return choice, True
        found = self.auto(text)
        if found is not None:
            return found, True
        return self.acting_user.pk, False


class Stages:
    """Stage names of a file resolved to the pipeline's active stages, or won/lost."""

    def __init__(self, settings: RunSettings):
        self.chosen = settings.stages
        active = list(
            Stage.objects.active().filter(pipeline=settings.pipeline).order_by("position", "pk")
        )
        self.by_id = {s.pk: s for s in active}
        self.first = active[0] if active else None
        self.last = active[-1] if active else None
        self.by_name = {}
        self._cache: dict[str, int | str | None] = {}
        for stage in active:
            self.by_name.setdefault(" ".join(stage.name.casefold().split()), stage.pk)

    def auto(self, text: str) -> int | str | None:
        key = " ".join(text.casefold().split())
        if key in self.by_name:
            return self.by_name[key]
        status = STATUS_WORDS.get(key)
        if status in (WON, LOST):
            return status
        return None

    def resolve(self, text: str) -> int | str | None:
        if text not in self._cache:
            self._cache[text] = self._resolve(text)
        return self._cache[text]

    def _resolve(self, text: str) -> int | str | None:
        choice = self.chosen.get(text)
        if choice in (WON, LOST) or (isinstance(choice, int) and choice in self.by_id):
            return choice
        return self.auto(text)


# --- companies and contacts ------------------------------------------------------------------


class Ref:
    """A company or contact a row points at: an existing one (`pk`), or one this run creates
    (`row`: the row that creates it; `record` until it is written; `pk` once written)."""

    __slots__ = ("pk", "row", "record", "company", "matched_row")

    def __init__(self, pk=None, *, row=None, record=None, company=None):
        self.pk = pk
        self.row = row
        self.record = record
        self.company = company  # a contact's company (a Ref, or its id)
        self.matched_row = None  # the first row of the file that matched an existing record

    @property
    def company_pk(self) -> int | None:
        return self.company.pk if isinstance(self.company, Ref) else self.company


class Companies:
    """The team's companies the user can see, indexed by web host and folded name (built
    once per run from one query), plus the companies this run creates."""

    def __init__(self, settings: RunSettings, *, dry_run: bool):
        self.settings = settings
        self.dry_run = dry_run
        self.by_host: dict[str, Ref] = {}
        self.by_name: dict[str, Ref] = {}
        self.pending: list[Ref] = []
        self.created = 0
        # Company names repeat down a deals file (one company, many deals): fold each once.
        self.name_key = functools.lru_cache(maxsize=None)(company_name_key)
        visible = Company.objects.visible_to(settings.acting_user).filter(team=settings.team)
        rows = visible.order_by("pk").values_list("pk", "name", "domain", "website")
        for pk, name, domain, website in rows.iterator(chunk_size=5000):
            ref = Ref(pk)
            for host in (web_host_key(domain), web_host_key(website)):
                if host:
                    self.by_host.setdefault(host, ref)
            key = company_name_key(name)
            if key:
                self.by_name.setdefault(key, ref)

    def find(self, *, name: str, domain: str) -> tuple[Ref | None, str]:
        """(the match, how it matched: "domain" or "name")."""
        if domain:
            found = self.by_host.get(domain)
            if found is not None:
                return found, "domain"
        key = self.name_key(name) if name else ""
        if key:
            found = self.by_name.get(key)
            if found is not None:
                return found, "name"
        return None, ""

    def add(self, *, row: int, name: str, domain: str, **fields) -> Ref:
        """A company this run creates: indexed at once, written at the chunk's end (never in
        a dry run, which builds no model objects at all)."""
        name = name or domain
        ref = Ref(row=row)
        if not self.dry_run:
            ref.record = {
                "team_id": self.settings.team.pk,
                "name": name,
                "domain": domain,
                "import_batch_id": self.settings.batch_id,
                **fields,
            }
            self.pending.append(ref)
        host = domain or web_host_key(fields.get("website", ""))
        if host:
            self.by_host.setdefault(host, ref)
        key = self.name_key(name)
        if key:
            self.by_name.setdefault(key, ref)
        self.created += 1
        return ref

    def flush(self) -> None:
        """Write the chunk's new companies."""
        if not self.pending:
            return
        ids = bulk_insert(Company, [ref.record for ref in self.pending])
        for ref, pk in zip(self.pending, ids, strict=True):
            ref.pk, ref.record = pk, None
        self.pending = []


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


class Contacts:
    """The team's contacts the user can see, by e-mail and by (company, name) (one query per
    run), plus the contacts this run creates."""

    def __init__(self, settings: RunSettings, *, dry_run: bool):
        self.settings = settings
        self.dry_run = dry_run
        self.by_email: dict[str, Ref] = {}
        self.by_name: dict[tuple[object, str], Ref] = {}
        self.pending: list[Ref] = []
        self.created = 0
        visible = Contact.objects.visible_to(settings.acting_user).filter(
            company__team=settings.team
        )
        rows = visible.order_by("pk").values_list("pk", "company_id", "name", "email")
        for pk, company_id, name, email in rows.iterator(chunk_size=5000):
            ref = Ref(pk, company=company_id)
            if email:
                self.by_email.setdefault(email.casefold(), ref)
            self.by_name.setdefault((company_id, _name_key(name)), ref)

    @staticmethod
    def _company_key(company: Ref | None):
        """A company as part of a key, the same before and after it is written."""
        if company is None:
            return None
        return ("new", company.row) if company.row is not None else company.pk

    def find(self, *, email: str, company: Ref | None, name: str) -> Ref | None:
        """By e-mail, else by name at `company`."""
        if email:
            found = self.by_email.get(email.casefold())
            if found is not None:
                return found
        if company is not None and name:
            return self.by_name.get((self._company_key(company), _name_key(name)))
        return None

    def add(self, *, company: Ref, row: int, name: str, email: str = "", **fields) -> Ref:
        """A contact this run creates at `company` (see `Companies.add`)."""
        ref = Ref(row=row, company=company)
        if not self.dry_run:
            ref.record = {
                "name": name,
                "email": email,
                "import_batch_id": self.settings.batch_id,
                **fields,
            }
            self.pending.append(ref)
        if email:
            self.by_email.setdefault(email.casefold(), ref)
        self.by_name.setdefault((self._company_key(company), _name_key(name)), ref)
        self.created += 1
        return ref

    def flush(self) -> None:
        """Write the chunk's new contacts (after their companies)."""
        if not self.pending:
            return
        for ref in self.pending:
            ref.record["company_id"] = ref.company_pk
        ids = bulk_insert(Contact, [ref.record for ref in self.pending])
        for ref, pk in zip(self.pending, ids, strict=True):
            ref.pk, ref.record = pk, None
        self.pending = []


# --- the run ---------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    cells: list
    values: dict
    problems: list[Problem]
    action: str = ""
    note: str = ""


@dataclass
class _NewDeal:
    row: _Row
    deal: NewDeal
    company: Ref | None
    contact: Ref | None


class ImportRun:
    """One run over a file (see the module's docstring)."""

    def __init__(
        self,
        settings: RunSettings,
        *,
        dry_run: bool,
        progress: Callable[[int], None] | None = None,
        preview_rows: int = 0,
    ):
        self.settings = settings
        self.kind = settings.kind
        self.dry_run = dry_run
        self.progress = progress or (lambda done: None)
        self.preview_rows = preview_rows
        self.user = settings.acting_user
        self.access = access_for(settings.acting_user)
        self.manages_team = self.access.manages_team(settings.team.pk)
        self.now = timezone.now()
        self.zone = organisation_zone()
        self.readings = column_readings(
            settings.profile,
            number_styles=settings.number_styles,
            date_orders=settings.date_orders,
        )
        self.reader = RowReader(
            kind=settings.kind,
            headers=settings.headers,
            mapping=settings.columns,
            readings=self.readings,
            currencies=Currency.values,
            country_code=country_code,
        )
        self.result = ImportResult(readings=self.readings)
        self.owners = Owners(settings)
        self.companies = Companies(settings, dry_run=dry_run)
        self.contacts = Contacts(settings, dry_run=dry_run) if self.kind != h.COMPANIES else None
        self.header_of: dict[str, str] = {}
        for index, key in enumerate(settings.columns):
            if key:
                self.header_of.setdefault(key, settings.headers[index])
        self.seen: dict = {}  # deal identities of this file -> the first row with them
        self.writer = None
        if self.kind == h.DEALS:
            organisation = organisation_get()
            self.stages = Stages(settings)
            self.own_source = install_source()
            self.default_currency = organisation.reporting_currency
            self.lost_reasons = {r.name.casefold(): r.pk for r in LostReason.objects.all()}
            sourced = (
                Deal.objects.filter(pipeline=settings.pipeline)
                .exclude(source_id="")
                .values_list("source_system", "source_id", "pk")
            )
            self.known_sources = {
                (system, source_id): pk
                for system, source_id, pk in sourced.iterator(chunk_size=10_000)
            }
            if not dry_run:
                self.writer = DealBulkWriter(
                    acting_user=settings.acting_user,
                    pipeline=settings.pipeline,
                    batch_id=settings.batch_id,
                    now=self.now,
                    first_step=settings.first_step,
                    apply_routines=settings.apply_routines,
                )

    # -- driving ------------------------------------------------------------------------------

    def execute(self, table: Table) -> ImportResult:
        chunk: list[_Row] = []
        done = 0
        for number, cells in table.rows():
            values, problems = self.reader.read(number, cells)
            chunk.append(_Row(number, cells, values, problems))
            if len(chunk) == CHUNK_ROWS:
                done += self._chunk(chunk)
                self.progress(done)
                chunk = []
        if chunk:
            done += self._chunk(chunk)
            self.progress(done)
        if self.writer is not None:
            self.writer.finish()
        if self.kind == h.DEALS:
            self.result.related["companies"] = self.companies.created
            self.result.related["contacts"] = self.contacts.created
        elif self.kind == h.CONTACTS:
            self.result.related["companies"] = self.companies.created
        return self.result

    def _chunk(self, rows: list[_Row]) -> int:
        handle = {
            h.COMPANIES: self._companies_chunk,
            h.CONTACTS: self._contacts_chunk,
            h.DEALS: self._deals_chunk,
        }[self.kind]
        handle([row for row in rows if not _has_error(row.problems)])
        result = self.result
        for row in rows:
            if _has_error(row.problems) or not row.action:
                row.action = SKIP
            if row.action == CREATE:
                result.created += 1
            elif row.action == UPDATE:
                result.updated += 1
            elif row.action == UNCHANGED:
                result.unchanged += 1
            else:
                result.skipped += 1
            if row.problems:
                result.add_problems(row.problems)
            if len(result.preview) < self.preview_rows:
                result.preview.append(
                    PreviewRow(
                        row=row.number,
                        action=row.action,
                        cells=[display(c) for c in row.cells],
                        problems={p.column: p.message for p in row.problems},
                        note=row.note,
                    )
                )
        return len(rows)

    def _problem(self, row: _Row, key: str, message: str, severity: str = ERROR) -> None:
        row.problems.append(Problem(row.number, self.header_of.get(key, ""), message, severity))

    def _repeats(self, row: _Row, ref: Ref, what: str) -> bool:
        """Whether the row matched a record an earlier row of the file created or matched;
        it is then left out, naming that row."""
        first = ref.row if ref.row is not None else ref.matched_row
        if first is None:
            ref.matched_row = row.number
            return False
        self._problem(
            row,
            "",
            _("The same %(what)s as row %(row)s; this row is left out.")
            % {"what": what, "row": first},
        )
        return True

    def _load(self, model, ids) -> dict:
        """The existing records a chunk matched, locked for the run's transaction."""
        ids = sorted(i for i in ids if i)
        if not ids:
            return {}
        qs = model.objects.filter(pk__in=ids).order_by("pk")
        if not self.dry_run:
            qs = qs.select_for_update(no_key=True)
        return {record.pk: record for record in qs}

    # -- owners -------------------------------------------------------------------------------

    def _owner(self, row: _Row) -> tuple[int | None, bool]:
        """(owner id, whether the file names one). A name that is not one of the team's
        members goes to the acting user, with a warning unless the user chose so."""
        key = "owner_email" if row.values.get("owner_email") else "owner"
        text = row.values.get(key)
        if not text:
            return None, False
        owner_id, understood = self.owners.resolve(text)
        if not understood:
            self._problem(
                row,
                key,
                _("“%(name)s” is not a member of the team; you own this row.") % {"name": text},
                WARNING,
            )
        return owner_id, True

    def _new_owner(self, row: _Row) -> int | None:
        """The owner of a new record: the file's (a member of the team), else the acting
        user. Unassigned only for a manager or an admin, who chose "nobody" for a name or
        whose file has an owner column left empty (our export of an unassigned record)."""
        owner_id, named = self._owner(row)
        if not named and self.manages_team and self._owner_column:
            return None
        if owner_id is None and not (named and self.manages_team):
            return self.user.pk
        return owner_id

    @functools.cached_property
    def _owner_column(self) -> bool:
        return "owner" in self.header_of or "owner_email" in self.header_of

    def _changed_owner(self, row: _Row, current: int | None) -> tuple[bool, int | None]:
        """(whether to change an existing record's owner, to whom)."""
        owner_id, named = self._owner(row)
        if not named or owner_id == current:
            return False, None
        if not self.manages_team:
            self._problem(row, "owner", _owner_kept_message(), WARNING)
            return False, None
        return True, owner_id

    # -- companies ----------------------------------------------------------------------------

    def _may_edit_company(self, company: Company) -> bool:
        return self.manages_team or company.owner_id in (None, self.user.pk)

    @functools.cached_property
    def _editable_company_ids(self) -> frozenset[int]:
        """The team's companies a salesperson may change: theirs and nobody's."""
        return frozenset(
            Company.objects.filter(team=self.settings.team)
            .filter(Q(owner_id=self.user.pk) | Q(owner__isnull=True))
            .values_list("pk", flat=True)
        )

    def _may_add_to(self, company: Ref) -> bool:
        """Whether the user may add a contact to `company` (or move one there)."""
        if self.manages_team or company.row is not None:
            return True
        return company.pk in self._editable_company_ids

    def _company_for(self, row: _Row) -> Ref | None:
        """The company a contact or deal row names, matched or created; None if none."""
        name = row.values.get("company_name", "")
        domain = row.values.get("company_domain", "")
        if not name and not domain:
            return None
        found, _how = self.companies.find(name=name, domain=domain)
        if found is not None:
            return found
        return self.companies.add(row=row.number, name=name, domain=domain)

    def _companies_chunk(self, rows: list[_Row]) -> None:
        matched: dict[int, Ref] = {}
        for row in rows:
            values = row.values
            domain = values.get("domain") or web_host_key(values.get("website", ""))
            if domain:
                values["domain"] = domain
            found, how = self.companies.find(name=values["name"], domain=domain)
            if found is not None:
                if not self._repeats(row, found, _("company")):
                    matched[row.number] = found
                    row.note = _matched_note(how)
                continue
            details = {f: values[f] for f in COMPANY_FIELDS if values.get(f)}
            details.pop("name", None)
            details.pop("domain", None)
            self.companies.add(
                row=row.number,
                name=values["name"],
                domain=domain,
                owner_id=self._new_owner(row),
                **details,
            )
            row.action = CREATE
        self.companies.flush()
        existing = self._load(Company, {ref.pk for ref in matched.values()})
        for row in rows:
            ref = matched.get(row.number)
            if ref is None:
                continue
            company = existing.get(ref.pk)
            if company is None:
                self._problem(row, "", _("This company was removed while the file was read."))
                continue
            changes = {
                name: row.values[name]
                for name in COMPANY_FIELDS
                if row.values.get(name) and _stored(company, name) != row.values[name]
            }
            change_owner, owner_id = self._changed_owner(row, company.owner_id)
            if change_owner:
                changes["owner_id"] = owner_id
            if not changes:
                row.action = UNCHANGED
            elif not self._may_edit_company(company):
                self._problem(row, "", _("You may not change %(name)s.") % {"name": company.name})
            else:
                row.action = UPDATE
                if not self.dry_run:
                    for name, value in changes.items():
                        setattr(company, name, value)
                    company.save(update_fields=[*changes, "updated_at"])

    # -- contacts -----------------------------------------------------------------------------

    def _contacts_chunk(self, rows: list[_Row]) -> None:
        matched: dict[int, tuple[Ref, Ref | None]] = {}
        for row in rows:
            values = row.values
            company = self._company_for(row)
            found = self.contacts.find(
                email=values.get("email", ""), company=company, name=values["name"]
            )
            if found is not None:
                if not self._repeats(row, found, _("contact")):
                    matched[row.number] = (found, company)
                    row.note = _("matches an existing contact")
                continue
            if not self._may_add_to(company):
                self._problem(row, "company_name", _("You may not add contacts to this company."))
                continue
            self.contacts.add(
                company=company,
                row=row.number,
                name=values["name"],
                email=values.get("email", ""),
                phone=values.get("phone", ""),
                title=values.get("title", ""),
            )
            row.action = CREATE
        self.companies.flush()
        self.contacts.flush()
        existing = self._load(Contact, {found.pk for found, _company in matched.values()})
        for row in rows:
            if row.number not in matched:
                continue
            found, company = matched[row.number]
            contact = existing.get(found.pk)
            if contact is None:
                self._problem(row, "", _("This contact was removed while the file was read."))
                continue
            changes = {
                name: row.values[name]
                for name in CONTACT_FIELDS
                if row.values.get(name) and getattr(contact, name) != row.values[name]
            }
            moves = company is not None and company.pk != contact.company_id
            if moves:
                changes["company_id"] = company.pk
            if not changes:
                row.action = UNCHANGED
                continue
            may = self.manages_team or contact.company_id in self._editable_company_ids
            if not may or (moves and not self._may_add_to(company)):
                self._problem(row, "", _("You may not change this contact."))
                continue
            row.action = UPDATE
            if not self.dry_run:
                for name, value in changes.items():
                    setattr(contact, name, value)
                contact.save(update_fields=[*changes, "updated_at"])

    def _contact_for(self, row: _Row, company: Ref | None) -> Ref | None:
        """The contact a deal row names, matched (at the deal's company) or created."""
        name = row.values.get("contact_name", "")
        email = row.values.get("contact_email", "")
        if not name and not email:
            return None
        key = "contact_email" if email else "contact_name"
        found = self.contacts.find(email=email, company=company, name=name)
        if found is not None:
            if company is not None and not _same_company(found.company, company):
                self._problem(
                    row,
                    key,
                    _("This contact works at another company; the deal is not linked to it."),
                    WARNING,
                )
                return None
            return found
        if company is None:
            self._problem(
                row, key, _("A contact needs a company; the contact is left out."), WARNING
            )
            return None
        if not self._may_add_to(company):
            self._problem(
                row,
                key,
                _("You may not add contacts to this company; the contact is left out."),
                WARNING,
            )
            return None
        return self.contacts.add(
            company=company,
            row=row.number,
            name=name,
            email=email,
            phone=row.values.get("contact_phone", ""),
        )

    # -- deals --------------------------------------------------------------------------------

    def _identity(self, values: dict) -> tuple[str, str] | None:
        source_id = values.get("source_id", "")
        if not source_id:
            return None
        return values.get("source_system") or self.settings.source_system, source_id

    def _deals_chunk(self, rows: list[_Row]) -> None:
        identities: dict[int, tuple[str, str]] = {}
        for row in rows:
            identity = self._identity(row.values)
            if identity is None:
                continue
            first = self.seen.setdefault(identity, row.number)
            if first != row.number:
                self._problem(
                    row,
                    "source_id",
                    _("The same deal as row %(row)s; this row is left out.") % {"row": first},
                )
            else:
                identities[row.number] = identity
        existing = self._existing_deals(set(identities.values()))
        creates: list[_NewDeal] = []
        updates: list[tuple[Deal, dict]] = []
        for row in rows:
            if _has_error(row.problems):
                continue
            stage_id, status = self._stage_and_status(row)
            if _has_error(row.problems):
                continue
            deal = existing.get(identities.get(row.number))
            company = self._company_for(row)
            contact = self._contact_for(row, company)
            if deal is None:
                row.action = CREATE
                if self.dry_run:  # the same checks, without building the deal
                    self._new_owner(row)
                    if status == DealStatus.LOST:
                        self._lost_reason(row)
                    continue
                new = self._new_deal(row, stage_id, status)
                creates.append(_NewDeal(row, new, company, contact))
                continue
            changes = self._deal_changes(row, deal, stage_id, status, company, contact)
            if _has_error(row.problems):
                continue
            row.action = UPDATE if changes else UNCHANGED
            if changes:
                updates.append((deal, changes))
        self.companies.flush()
        self.contacts.flush()
        if self.dry_run:
            return
        for item in creates:
            item.deal.company_id = item.company.pk if item.company else None
            item.deal.contact_id = item.contact.pk if item.contact else None
        self.writer.create([item.deal for item in creates])
        for _deal, changes in updates:
            for key in ("company_id", "contact_id"):
                if isinstance(changes.get(key), Ref):
                    changes[key] = changes[key].pk
        self.writer.update(updates)

    def _existing_deals(self, identities: set[tuple[str, str]]) -> dict:
        """The pipeline's deals with these identities, read (and in a real run locked, after
        the columns, in id order) in one query, and only when some exist: the record ids the
        pipeline holds are known from the start. Our own export names a deal of ours by its
        id."""
        ids = [self.known_sources[i] for i in identities if i in self.known_sources]
        ids += [int(i) for s, i in identities if s == self.own_source and i.isdigit()]
        if not ids:
            return {}
        qs = Deal.objects.filter(pk__in=sorted(ids), pipeline=self.settings.pipeline)
        qs = qs.order_by("pk")
        if not self.dry_run:
            qs = qs.select_for_update(no_key=True)
        found = {}
        for deal in qs:
            if deal.source_id:
                found[(deal.source_system, deal.source_id)] = deal
            else:
                found[(self.own_source, str(deal.pk))] = deal
        return found

    def _stage_and_status(self, row: _Row) -> tuple[int | None, str | None]:
        """(stage id, status) of a row: the stage named (one of ours, or won/lost), the status
        column overriding; None where the file says nothing."""
        values = row.values
        stage_id = status = None
        text = values.get("stage")
        if text:
            target = self.stages.resolve(text)
            if target is None:
                self._problem(
                    row,
                    "stage",
                    _("There is no stage “%(name)s” in %(pipeline)s; map it to one of ours.")
                    % {"name": text, "pipeline": self.settings.pipeline.name},
                )
                return None, None
            if target == WON:
                stage_id, status = self.stages.last.pk, DealStatus.WON
            elif target == LOST:
                stage_id, status = self.stages.first.pk, DealStatus.LOST
            else:
                stage_id = target
        if values.get("status"):
            status = values["status"]
        return stage_id, status

    def _aware(self, value: datetime | None) -> datetime | None:
        if value is not None and timezone.is_naive(value):
            return timezone.make_aware(value, self.zone)
        return value

    def _new_deal(self, row: _Row, stage_id: int | None, status: str | None) -> NewDeal:
        values = row.values
        status = status or DealStatus.OPEN
        closed_at = None
        if status != DealStatus.OPEN:
            closed_at = self._aware(values.get("closed_at"))
            if closed_at is None and values.get("expected_close_date"):
                closed_at = self._aware(datetime.combine(values["expected_close_date"], time(12)))
            closed_at = min(closed_at or self.now, self.now)
        step = None
        if values.get("next_step"):
            step = (values["next_step"], values.get("next_step_due") or self.now.date())
        source_system, source_id = self._identity(values) or ("", "")
        return NewDeal(
            title=values["title"],
            stage_id=stage_id or self.stages.first.pk,
            owner_id=self._new_owner(row),
            value=values.get("value", Decimal(0)),
            currency=values.get("currency") or self.default_currency,
            status=status,
            expected_close_date=values.get("expected_close_date"),
            created_at=self._aware(values.get("created_at")),
            closed_at=closed_at,
            lost_reason_id=self._lost_reason(row) if status == DealStatus.LOST else None,
            source_system=source_system,
            source_id=source_id,
            next_step=step,
        )

    def _lost_reason(self, row: _Row) -> int | None:
        name = row.values.get("lost_reason")
        if not name:
            return None
        found = self.lost_reasons.get(name.casefold())
        if found is None:
            self._problem(
                row,
                "lost_reason",
                _("“%(name)s” is not one of the lost reasons; left empty.") % {"name": name},
                WARNING,
            )
        return found

    def _deal_changes(
        self, row: _Row, deal: Deal, stage_id, status, company: Ref | None, contact: Ref | None
    ) -> dict:
        """What the row changes on an existing deal: only what differs, and an empty cell
        never erases. An error on the row when the user may not change the deal."""
        values = row.values
        changes: dict = {}
        for key in ("title", "value", "currency", "expected_close_date"):
            if key in values and getattr(deal, key) != values[key]:
                changes[key] = values[key]
        if stage_id is not None and stage_id != deal.stage_id:
            changes["stage_id"] = stage_id
        if status is not None and status != deal.status:
            if not (status == DealStatus.OPEN and deal.status == DealStatus.PAUSED):
                changes["status"] = status
        if status == DealStatus.LOST and "status" in changes:
            changes["lost_reason_id"] = self._lost_reason(row)
        change_owner, owner_id = self._changed_owner(row, deal.owner_id)
        if change_owner:
            changes["owner_id"] = owner_id
        if company is not None and company.pk != deal.company_id:
            changes["company_id"] = company
            changes["contact_id"] = contact
        elif contact is not None and contact.pk != deal.contact_id:
            changes["contact_id"] = contact
        may_edit = self.manages_team or deal.owner_id in (None, self.user.pk)
        if not may_edit and (changes or self.settings.team.pk in self.access.own_only_team_ids):
            self._problem(
                row, "", _("A deal with this record id exists and you may not change it.")
            )
            return {}
        return changes


COMPANY_FIELDS = ("name", "domain", "website", "phone", "address", "country", "registration_number")
CONTACT_FIELDS = ("name", "email", "phone", "title")


def _same_company(company_of_contact, company: Ref) -> bool:
    if isinstance(company_of_contact, Ref):
        return company_of_contact is company or (
            company_of_contact.pk is not None and company_of_contact.pk == company.pk
        )
    return company_of_contact is not None and company_of_contact == company.pk


def _has_error(problems: list[Problem]) -> bool:
    return bool(problems) and any(p.severity == ERROR for p in problems)


def _stored(company: Company, name: str):
    value = getattr(company, name)
    return value.code if name == "country" else value


def _matched_note(how: str) -> str:
    if how == "domain":
        return _("matches an existing company by web domain")
    return _("matches an existing company by name")


def _owner_kept_message() -> str:
    return _("Only a manager can give a record to someone else; the owner is left as it is.")
