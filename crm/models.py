from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.access import access_for


class Tier(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")
    C = "C", _("C")


class CompanyQuerySet(models.QuerySet):
    def visible_to(self, user) -> CompanyQuerySet:
        """Companies of the teams the user sees (all for an admin).

        In a team set to "own deals only", a salesperson sees the companies they own or that
        nobody owns.
        """
        access = access_for(user)
        if access.is_admin:
            return self
        return self.filter(
            Q(team_id__in=access.full_team_ids)
            | Q(team_id__in=access.own_only_team_ids)
            & (Q(owner_id=access.user_id) | Q(owner__isnull=True))
        )


class Company(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="companies")
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("web domain"), max_length=200, blank=True)
    # What a B2B firm keeps about a customer; all optional.
    website = models.URLField(_("website"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    address = models.TextField(_("address"), max_length=500, blank=True)
    country = CountryField(_("country"), blank=True)
    registration_number = models.CharField(
        _("registration number"),
        max_length=40,
        blank=True,
        help_text=_("CVR, org.nr., VAT id"),
    )
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices, default=Tier.C)
    tier_locked = models.BooleanField(_("tier set by hand"), default=False)
    # Expected value (reporting currency) behind the tier, as of the last recompute.
    expected_value = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    tier_computed_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="companies",
        verbose_name=_("owner"),
    )
    # The import that created it (crm.services.imports); undoing the import removes it.
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["team", "name"], name="company_team_name"),
            # A website lead finds its company by the e-mail's domain, whatever its case.
            models.Index(Upper("domain"), name="company_domain_upper"),
        ]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("company-detail", args=[self.pk])

    @property
    def website_label(self) -> str:
        """The website as people read it: "https://www.acme.dk/" -> "www.acme.dk"."""
        return self.website.split("://", 1)[-1].rstrip("/")


class ContactQuerySet(models.QuerySet):
    def visible_to(self, user) -> ContactQuerySet:
        """Contacts of the companies the user sees."""
        return self.filter(company__in=Company.objects.visible_to(user).values("pk"))


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [
            # A website lead finds its contact by e-mail, whatever its case.
            models.Index(Upper("email"), name="contact_email_upper"),
        ]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contact-detail", args=[self.pk])


class Note(models.Model):
    """A note on exactly one company, contact or deal."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    deal = models.ForeignKey(
        "pipeline.Deal", on_delete=models.CASCADE, null=True, blank=True, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("note"), max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(company__isnull=False, contact__isnull=True, deal__isnull=True)
                    | Q(company__isnull=True, contact__isnull=False, deal__isnull=True)
                    | Q(company__isnull=True, contact__isnull=True, deal__isnull=False)
                ),
                name="note_has_exactly_one_subject",
            )
        ]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return self.body[:60]


class WeekStart(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    SUNDAY = 6, _("Sunday")


class Organisation(models.Model):
    """The one organisation this install serves (a single row, pk 1).

    Read it through ``crm.organisation.organisation_get()``, which each process keeps while current.
    """

    name = models.CharField(_("name"), max_length=100, default="My company")
    reporting_currency = models.CharField(_("reporting currency"), max_length=3, default="EUR")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Copenhagen")
    week_start = models.PositiveSmallIntegerField(
        _("week starts on"), choices=WeekStart.choices, default=WeekStart.MONDAY
    )
    # ABC tiers on a company's expected value (docs/product.md), in the reporting currency.
    tier_a_threshold = models.DecimalField(
        _("A at or above"), max_digits=18, decimal_places=2, default=100000
    )
    tier_b_threshold = models.DecimalField(
        _("B at or above"), max_digits=18, decimal_places=2, default=25000
    )
    tiers_recomputed_at = models.DateTimeField(null=True, blank=True)
    # Names this install in its exports ("Source system" crm-<first 12 hex digits>), so that
    # importing its own export matches its own deals by id, and another install's by the
    # source id it keeps (crm.services.imports).
    install_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # The language of mail from the CRM (invitations, resets) and the interface's default;
    # one of settings.LANGUAGES, checked by the form and the services.
    language = models.CharField(_("language"), max_length=10, default="en-gb")
    # The first-run set-up (crm/services/setup.py, docs/architecture.md "First run"). The
    # set-up token is never stored: it is an HMAC of `setup_token_salt` under SECRET_KEY, so
    # every web process derives the same one and a database dump alone does not reveal it.
    # Blank once the install is claimed (the token is dead from then on).
    setup_token_salt = models.CharField(max_length=64, blank=True)
    # The admin created by the set-up, while they finish its later steps (`setup_step`).
    setup_admin = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    setup_step = models.CharField(max_length=20, blank=True)
    setup_completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="organisation_single_row"),
            models.CheckConstraint(
                condition=Q(tier_a_threshold__gte=models.F("tier_b_threshold"))
                & Q(tier_b_threshold__gte=0),
                name="organisation_tier_thresholds_ordered",
            ),
        ]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisation")

    def __str__(self) -> str:
        return self.name


class TierChange(models.Model):
    """Append-only record of a company's tier changing (by the recompute job or by hand)."""

    class Source(models.TextChoices):
        RECOMPUTE = "recompute", _("recomputed")
        MANUAL = "manual", _("set by hand")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=1, choices=Tier.choices)
    to_tier = models.CharField(max_length=1, choices=Tier.choices)
    expected_value = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["company", "-at"], name="tierchange_company_at")]

    def __str__(self) -> str:
        return f"{self.company_id}: {self.from_tier} -> {self.to_tier}"


class ImportKind(models.TextChoices):
    COMPANIES = "companies", _("Companies")
    CONTACTS = "contacts", _("Contacts")
    DEALS = "deals", _("Deals")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Not imported yet")
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    UNDONE = "undone", _("Undone")


class ImportBatchQuerySet(models.QuerySet):
    def visible_to(self, user) -> ImportBatchQuerySet:
        """Imports the user may see in the history: their own, every import into a team they
        manage, and all for an admin."""
        access = access_for(user)
        if access.is_admin:
            return self
        return self.filter(Q(user_id=access.user_id) | Q(team_id__in=access.managed_team_ids))


class ImportBatch(models.Model):
    """One upload of a file and, once run, the records it created and updated, all or none
    (crm.services.imports). The records it created carry it (`import_batch`), so undoing it
    removes exactly them. Its progress is written from outside the import's transaction,
    so any process can show it while the import runs."""

    kind = models.CharField(_("kind"), max_length=10, choices=ImportKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    pipeline = models.ForeignKey(
        "pipeline.Pipeline", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The file, as uploaded (its bytes are in ImportFileChunk until the import is done).
    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=4)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    source_system = models.CharField(max_length=40, blank=True)
    headers = models.JSONField(default=list)
    # crm.importing.records.FileProfile: each column's samples, evidence, distinct values.
    profile = models.JSONField(default=dict)
    row_count = models.PositiveIntegerField(default=0)
    # What the user chose: a field per column, stage and owner names, readings, next step.
    mapping = models.JSONField(default=dict)
    # The outcome, once run.
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    related_created = models.JSONField(default=dict)  # {"companies": 3, "contacts": 5}
    problems = models.JSONField(default=list)  # the first problems, by row and column
    problem_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    # Written from a connection of its own while the import's transaction runs.
    progress_done = models.PositiveIntegerField(default=0)
    progress_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "-created_at"], name="importbatch_team_created")]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("import-detail", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def file_description(self) -> str:
        """ "CSV, Windows-1252, semicolon-separated" or "Excel workbook"."""
        if self.file_format == "xlsx":
            return str(_("Excel workbook"))
        encodings = {
            "utf-8": "UTF-8",
            "utf-8-sig": _("UTF-8 with BOM"),
            "utf-16": "UTF-16",
            "utf-16-le": "UTF-16",
            "utf-16-be": "UTF-16",
            "cp1252": "Windows-1252",
            "latin-1": "ISO-8859-1",
        }
        separators = {
            ",": _("comma-separated"),
            ";": _("semicolon-separated"),
            "\t": _("tab-separated"),
            "|": _("pipe-separated"),
        }
        parts = ["CSV", encodings.get(self.encoding, self.encoding), separators.get(self.delimiter)]
        return ", ".join(str(p) for p in parts if p)

    @property
    def progress_percent(self) -> int:
        if not self.row_count:
            return 0
        return min(100, round(100 * self.progress_done / self.row_count))


class ImportFileChunk(models.Model):
    """A piece of an uploaded file, kept in the database so that whichever process runs the
    import (a web process, a worker on another machine) can read it, one piece at a time."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "position"], name="importfilechunk_batch_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.position}"
