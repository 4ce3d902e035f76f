"""Who sees which language.

A page is in the first of: the signed-in user's own choice (`User.language`, set on the
profile page or by the user menu's switcher), the language cookie the switcher sets (so the
sign-in page of a browser that chose keeps it), the browser's `Accept-Language`, the
organisation's default (`Organisation.language`). A mail, a digest or anything else sent to a
person is in that person's language (`language_for_user`), whoever's request sent it: their
choice, else the organisation's default (a task has no browser to ask).

URLs are the same in every language (no `i18n_patterns`): the answer says which language it
is in (`Content-Language`) and what decided it (`Vary: Accept-Language, Cookie`).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    parse_accept_lang_header,
)

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


def is_supported(code: str | None) -> bool:
    return bool(code) and code in LANGUAGE_CODES


def organisation_language() -> str:
    """The organisation's default (kept in memory per process: crm/organisation.py)."""
    from crm.organisation import organisation_get

    code = organisation_get().language
    return code if is_supported(code) else settings.LANGUAGE_CODE


def language_for_user(user) -> str:
    """The language of what is sent to `user` (mail, digests): their choice, else the
    organisation's default."""
    code = getattr(user, "language", "")
    return code if is_supported(code) else organisation_language()


def language_from_accept_header(header: str) -> str | None:
    """The first language of `Accept-Language` this CRM speaks ("da-DK" -> "da", "en" ->
    "en-gb", "no" -> "nb"), or None."""
    for code, _quality in parse_accept_lang_header(header or ""):
        if code == "*":
            break
        if code.split("-")[0] in ("no", "nn"):  # Norwegian in general, or nynorsk: bokmål
            code = "nb"
        try:
            variant = get_supported_language_variant(code)
        except LookupError:
            continue
        if variant in LANGUAGE_CODES:
            return variant
    return None


def language_from_request(request) -> str:
    """The language of this request's answer, in the order of the module's docstring. Costs
    no query: the user row is loaded by the authentication anyway, the organisation is kept
    in memory."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and is_supported(user.language):
        return user.language
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if is_supported(cookie):
        return cookie
    accepted = language_from_accept_header(request.headers.get("Accept-Language", ""))
    return accepted or organisation_language()
