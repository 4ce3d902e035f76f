"""Links by URL name and to static files, worked out once per process: every page asks for the
same links (the site's menu, the board's per pipeline and stage, its styles and scripts) on
every request, and neither the URL configuration nor the static files' names change while a
process runs. Django's `reverse` costs 10-30 µs a link, a static file's name about 10. The
script prefix, the URL configuration and the current application in force are part of the
key; a change to the settings that name static files forgets them (tests)."""

from __future__ import annotations

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse


def kept_reverse(name: str, args: tuple = (), current_app: str | None = None) -> str:
    """`reverse(name, args=args)`, remembered; raises NoReverseMatch as `reverse` does (a
    failed lookup is not remembered)."""
    return _reversed(get_script_prefix(), get_urlconf(), name, args, current_app)


def can_keep(args) -> bool:
    """Whether a link with these arguments may be remembered: plain ids and slugs (a model
    instance's str() could change while it hashes the same)."""
    return all(type(arg) in (int, str) for arg in args)


@lru_cache(maxsize=4096)
def _reversed(prefix: str, urlconf, name: str, args: tuple, current_app: str | None) -> str:
    return reverse(name, args=args, urlconf=urlconf, current_app=current_app)


def kept_static(path: str) -> str:
    """`static(path)`, remembered; raises as `static` does (a file missing from the manifest
    is not remembered)."""
    return _static(get_script_prefix(), path)


@lru_cache(maxsize=1024)
def _static(prefix: str, path: str) -> str:
    return static(path)


@receiver(setting_changed)
def _forget_static(*, setting, **kwargs) -> None:
    if setting in {"STORAGES", "STATIC_URL", "STATIC_ROOT", "DEBUG", "INSTALLED_APPS"}:
        _static.cache_clear()
