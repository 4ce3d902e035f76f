"""No English on any page, in Danish, Norwegian, Swedish and German.

The demo organisation is seeded once for the module (inside a transaction rolled back at the
end). Its pages are found by following every link and htmx request from the main pages as a
salesperson (sven), a manager (maria) and an admin, one address per view and persona, plus
the dialogs board.js opens and the error pages; each language renders all of them (browser
language sent as Accept-Language) and fails on any English msgid found in what the user
sees (tests/i18n/english.py). The set-up pages of an empty install are in
test_setup_pages_translated.py.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.test import Client, RequestFactory
from django.urls import Resolver404, resolve, reverse
from django.utils import translation

from accounts.models import User
from crm.devtools.demo import DemoSeeder
from crm.devtools.messages import LANGUAGES, extract
from crm.web import refusals
from crm.web.js_catalogue import js_catalogue
from pipeline.models import Deal, DealStatus, LeadForm
from tests.i18n.english import EnglishFinder, visible_texts

PERSONAS = ("sven", "maria", "admin")
START = [
    "home",
    "forecast",
    "review",
    "cleanup",
    "analytics-funnel",
    "lead-balance",
    "my-next-steps",
    "company-list",
    "contact-list",
    "notification-list",
    "profile",
    "import-list",
    "settings-home",
    "password_change",
]
# Views a persona sees differently (buttons, panels): rendered for every persona who can.
PER_PERSONA = {"board", "deal-detail", "home", "review", "forecast", "company-detail"}
# Not pages: files, JSON, redirects that act, the API and its docs (Swagger UI is English).
SKIPPED_PREFIXES = ("/static/", "/admin/", "/api/", "/forms/", "/accounts/logout/")
SKIPPED_VIEWS = {"notification-open", "logout"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append((attributes["href"], False))
        if attributes.get("hx-get"):
            self.links.append((attributes["hx-get"], True))


def _links(html: str) -> list[tuple[str, bool]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


def _view_name(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).url_name
    except Resolver404:
        return None


def _data_texts() -> set[str]:
    """Every text the demo stored: names, titles, subjects, notes (the user's data, shown as
    it was typed, in whatever language)."""
    texts: set[str] = set()
    for model in apps.get_models():
        names = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not f.choices
        ]
        if names:
            for row in model._default_manager.values_list(*names):
                texts.update(value for value in row if isinstance(value, str))
    for user in User.objects.all():
        texts.update({str(user), user.get_full_name(), user.initials})
    return texts


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo organisation, seeded once for the module and rolled back after it."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            DemoSeeder(stdout=StringIO()).run(password="demo", seed=42)
            yield {"data": _data_texts()}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _client(username: str | None, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    if username:
        client.force_login(User.objects.get(username=username))
    return client


def _extras(username: str) -> list[tuple[str, bool]]:
    """What board.js opens in the dialog: no link names these."""
    user = User.objects.get(username=username)
    deal = (
        Deal.objects.filter(status=DealStatus.OPEN, owner=user).order_by("pk").first()
        or Deal.objects.filter(status=DealStatus.OPEN).order_by("pk").first()
    )
    later = deal.pipeline.stages.filter(position__gt=deal.stage.position).order_by("position")
    pages = [
        (reverse("deal-lost", args=[deal.pk]) + "?from=board", True),
        (reverse("activity-create", args=[deal.pk]) + "?from=board", True),
        (reverse("deal-quick-create", args=[deal.pipeline_id, deal.stage_id]), True),
    ]
    if later.exists():
        query = f"?stage={later.last().pk}&version={deal.version}&after=&before=&loaded=0"
        pages.append((reverse("deal-move-check", args=[deal.pk]) + query, True))
    step = deal.activities.filter(done_at__isnull=True).order_by("pk").first()
    if step:
        pages.append((reverse("activity-update", args=[step.pk]) + "?from=board", True))
    return pages


# Error pages, rendered in every language: 404 (page and toast), 403 (page and toast).
ERRORS = [
    ("sven", "/deals/999999999/", False),
    ("sven", "/deals/999999999/", True),
    ("sven", "/settings/", False),
    ("sven", "/settings/", True),
]


@pytest.fixture(scope="module")
def pages(demo):
    """(persona, path, as htmx) for every view each persona can open, found by following
    links and hx-get requests from the main pages (in English: the links are the same in
    every language)."""
    found: list[tuple[str, str, bool]] = []
    seen_views: set[str] = set()
    for username in PERSONAS:
        client = _client(username, "en-gb")
        mine: set[str] = set()
        queue = deque((reverse(name), False) for name in START)
        queue.extend(_extras(username))
        visited: set[tuple[str, bool]] = set()
        while queue:
            path, htmx = queue.popleft()
            if (path, htmx) in visited or not path.startswith("/"):
                continue
            visited.add((path, htmx))
            if path.startswith(SKIPPED_PREFIXES) or urlsplit(path).path.endswith(
                (".csv", ".xlsx", ".js")
            ):
                continue
            view = _view_name(path)
            if view in SKIPPED_VIEWS:
                continue
            # One address per view: its full page where a link leads to it, else its fragment.
            if view is not None and (
                view in mine or (view in seen_views and view not in PER_PERSONA)
            ):
                continue
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = client.get(path, **headers)
            if response.status_code in (301, 302):
                queue.appendleft((response["Location"], htmx))
                continue
            if response.status_code != 200 or not response.get("Content-Type", "").startswith(
                "text/html"
            ):
                continue
            mine.add(view)
            found.append((username, path, htmx))
            queue.extend(_links(response.content.decode()))
        seen_views |= mine
    anonymous = [
        (None, reverse(name), False) for name in ("login", "password-reset", "password-reset-sent")
    ]
    anonymous.append(
        (None, reverse("lead-form-public", args=[LeadForm.objects.first().key]), False)
    )
    return found + ERRORS + anonymous


@pytest.fixture(scope="module")
def js_msgids():
    return [m.id for m in extract("djangojs") if m.id]


def test_the_crawl_reaches_every_part_of_the_product(pages, db):
    views = {_view_name(path) for _, path, _ in pages}
    for view in [
        "board",
        "deal-detail",
        "company-list",
        "company-detail",
        "contact-list",
        "contact-detail",
        "forecast",
        "review",
        "cleanup",
        "analytics-funnel",
        "analytics-reps",
        "analytics-losses",
        "lead-balance",
        "import-list",
        "import-start",
        "notification-list",
        "profile",
        "settings-home",
        "settings-pipeline",
        "settings-users",
        "settings-teams",
        "settings-organisation",
        "settings-tiers",
        "settings-lead-forms",
        "settings-lost-reasons",
        "deal-lost",
        "activity-create",
        "deal-move-check",
    ]:
        assert view in views, view
    assert {persona for persona, _, _ in pages} == {*PERSONAS, None}
    assert len(pages) > 70


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_on_any_page(language, demo, pages, db):
    # The public lead form speaks its own configured language, whatever the visitor's.
    LeadForm.objects.update(language=language)
    finder = EnglishFinder.from_catalogues(language, settings.BASE_DIR / "locale", demo["data"])
    clients = {username: _client(username, language) for username in (*PERSONAS, None)}
    english: dict[str, set[str]] = {}
    for username, path, htmx in pages:
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = clients[username].get(path, **headers)
        assert response.status_code < 500, (path, response.status_code)
        assert response.get("Content-Language") == language, path
        for msgid, text in finder.english_in(visible_texts(response.content.decode())):
            english.setdefault(msgid, set()).add(f"{username} {path}: {text[:80]!r}")
    english.update(_english_on_the_500_page(language, finder))
    for path in _exports():
        response = clients["admin"].get(path)
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        for msgid, text in finder.english_in(header):
            english.setdefault(msgid, set()).add(f"admin {path} header: {text!r}")
    report = "\n".join(
        f"{msgid!r}\n    " + "\n    ".join(sorted(where)[:3]) for msgid, where in english.items()
    )
    assert not english, f"{len(english)} English msgids on {language} pages:\n{report}"


def _exports() -> list[str]:
    """The reports' CSV downloads: their header rows are interface too. (The company, contact
    and deal lists' downloads keep English column names on purpose: they are a file format
    the import reads back, crm/selectors/exports.py.)"""
    return [reverse("forecast-export"), reverse("forecast-export") + "?group=stage"]


def _english_on_the_500_page(language: str, finder: EnglishFinder) -> dict[str, set[str]]:
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE=language)
    with translation.override(language):
        html = refusals.handler500(request).content.decode()
        found = finder.english_in(visible_texts(html))
        # The plain fallback, when the template itself cannot be rendered.
        from unittest import mock

        with mock.patch.object(refusals.loader, "render_to_string", side_effect=OSError):
            fallback = refusals.handler500(request).content.decode()
        found += finder.english_in(visible_texts(fallback))
    return {msgid: {f"500: {text!r}"} for msgid, text in found}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_javascript_catalogue_translates_every_string(language, js_msgids, db):
    catalogue = js_catalogue(language)["catalog"]
    untranslated = [msgid for msgid in js_msgids if not catalogue.get(msgid)]
    assert not untranslated, untranslated
    assert js_catalogue(language)["plural"] == "(n != 1)"  # the rule static/js/i18n.js knows


def test_the_page_carries_its_languages_javascript_catalogue(demo, db):
    import json

    html = _client("sven", "de").get(reverse("home"), follow=True).content.decode()
    start = html.index('<script id="js-catalogue" type="application/json">')
    block = html[start : html.index("</script>", start)].split(">", 1)[1]
    assert json.loads(block)["catalog"]["Copied"] == "Kopiert"
