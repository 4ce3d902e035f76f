"""The Jinja2 environment, used only for the hot path: the board page, its cards and its
column headers."""

from __future__ import annotations

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import reverse
from django.utils import translation
from jinja2 import Environment

from crm.templatetags import formats
from crm.web.links import can_keep, kept_reverse, kept_static


def url(name: str, *args) -> str:
    """`reverse(name, args=args)`, remembered (crm/web/links.py)."""
    return kept_reverse(name, args) if can_keep(args) else reverse(name, args=args)


def _gettext(message: str) -> str:
    return _translated(translation.get_language(), None, message)


def _pgettext(context: str, message: str) -> str:
    return _translated(translation.get_language(), context, message)


@lru_cache(maxsize=4096)
def _translated(language: str | None, context: str | None, message: str) -> str:
    """A message in the active language (`language`), remembered: a board page asks for the
    same sixty messages on every request, and Django looks each one up through up to seven
    catalogues (English ones miss in every one) at 2-5 µs. The catalogues change only with the
    settings (tests), which forget what was remembered."""
    if context is None:
        return translation.gettext(message)
    return translation.pgettext(context, message)


@receiver(setting_changed)
def _forget_translations(*, setting, **kwargs) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _translated.cache_clear()


def environment(**options) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(
        gettext=_gettext,
        ngettext=translation.ngettext,
        pgettext=_pgettext,
        npgettext=translation.npgettext,
        newstyle=True,
    )
    env.globals.update({"static": kept_static, "url": url})
    # The Django engine's formatting filters (crm/templatetags/formats.py), in the active
    # language: for what is drawn once per column or page, not per card (cards get bound
    # formatters from pipeline/rendering.py).
    env.filters.update(
        {
            "ldate": formats.ldate,
            "ldatetime": formats.ldatetime,
            "lnumber": formats.lnumber,
            "lpercent": formats.lpercent,
            "lpoints": formats.lpoints,
        }
    )
    return env
