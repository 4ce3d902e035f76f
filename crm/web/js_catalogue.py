"""The JavaScript strings' translations (the `djangojs` domain), for `static/js/i18n.js`.

base.html renders the active language's catalogue into every page as one JSON block
(`{% js_catalogue %}`): no request of its own, no URL that would have to vary (and be cached)
per language, and no inline script, which the content security policy forbids. Django's
`JavaScriptCatalog` builds it, from this project's catalogues only (not the admin's). A process
builds each language's block once: catalogues change only with a deploy, which restarts it.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation.trans_real import DjangoTranslation
from django.views.i18n import JavaScriptCatalog

ELEMENT_ID = "js-catalogue"


def js_catalogue(language: str) -> dict:
    """{"catalog": {msgid: translation or [forms]}, "plural": the Plural-Forms expression}.
    static/js/i18n.js knows the plural rule of every language offered ("n != 1"); the
    catalogue check (tests/i18n/) holds each catalogue to it."""
    view = JavaScriptCatalog()
    view.translation = DjangoTranslation(
        language, domain="djangojs", localedirs=[str(path) for path in settings.LOCALE_PATHS]
    )
    return {"catalog": view.get_catalog(), "plural": view.get_plural()}


@functools.lru_cache(maxsize=16)
def _block(language: str) -> SafeString:
    return json_script(js_catalogue(language), ELEMENT_ID)


def js_catalogue_block(language: str | None = None) -> SafeString:
    """The `<script type="application/json" id="js-catalogue">` of the active language."""
    return _block(language or get_language() or settings.LANGUAGE_CODE)


def js_catalogue_forget() -> None:
    """Rebuild the blocks from the catalogues on disk (tests that compile their own)."""
    _block.cache_clear()
