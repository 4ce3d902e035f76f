"""The Jinja2 environment, used only for the hot path: board cards."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from jinja2 import Environment

from crm.templatetags import formats


def environment(**options) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_translations(translation, newstyle=True)
    env.globals.update({"static": static, "url": lambda name, *args: reverse(name, args=args)})
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
