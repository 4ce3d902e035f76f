"""The Jinja2 environment, used only for the hot path: the board page, its cards and its
column headers."""

from __future__ import annotations

from functools import lru_cache

from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from jinja2 import Environment

from crm.templatetags import formats


def url(name: str, *args) -> str:
    """`reverse(name, args=args)`, remembered: a board page asks for the same dozen links
    (per pipeline and stage) on every request, and the URL configuration never changes while
    a process runs. The script prefix and URL configuration in force are part of the key."""
    return _reversed(get_script_prefix(), get_urlconf(), name, args)


@lru_cache(maxsize=4096)
def _reversed(prefix: str, urlconf, name: str, args: tuple) -> str:
    return reverse(name, args=args, urlconf=urlconf)


def environment(**options) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translation, newstyle=True)
    env.globals.update({"static": static, "url": url})
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
