"""The session engine (`SESSION_ENGINE = "crm.sessions"`): sessions live in the database
(docs/reliability.md); where the cache is shared by every web process (Redis, Memcached, the
database cache), reads are served from it first, as Django's `cached_db` does, which saves
every request its session query (docs/performance.md).

A cache each process keeps to itself (the default local-memory cache, a file cache on one
node) must not sit in front of sessions: a sign-out or a password change in one process would
leave the session alive in the others' copies. Then this is Django's plain database engine.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends import cached_db, db

# Cache backends every process and node of an installation reads alike.
SHARED_CACHE_BACKENDS = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django.core.cache.backends.db.DatabaseCache",
)


def cache_is_shared(alias: str | None = None) -> bool:
    """Whether the cache `alias` (the sessions' cache by default) is shared by every process."""
    alias = alias or settings.SESSION_CACHE_ALIAS
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    return backend in SHARED_CACHE_BACKENDS or backend.startswith("django_redis.")


class SessionStore(cached_db.SessionStore if cache_is_shared() else db.SessionStore):
    """Django's `cached_db` store with a shared cache, its `db` store otherwise."""
