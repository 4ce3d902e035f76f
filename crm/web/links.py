"""Links by URL name, reversed once per process: every page asks for the same links (the
site's menu, the board's per pipeline and stage) on every request, and the URL configuration
never changes while a process runs. Django's `reverse` costs 10-30 µs a link. The script
prefix, the URL configuration and the current application in force are part of the key."""

from __future__ import annotations

from functools import lru_cache

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
