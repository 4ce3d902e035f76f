"""Settings, driven by environment variables through small strict helpers.

Safe defaults: DEBUG is off and SECRET_KEY is required unless DEBUG is on. With no
DATABASE_URL, CELERY_BROKER_URL and REDIS_URL the app runs embedded: SQLite, Celery's
filesystem broker and a file cache under var/, no servers needed.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-only" if DEBUG else None)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "django_countries",
    "template_partials",
    "accounts",
    "crm",
    "pipeline",
    "webhooks",
    "crm.devtools",
]

MIDDLEWARE = [
    # First: every answer below, 4xx and 5xx included, carries the request's id, and every
    # log line written while it runs names it.
    "crm.observability.RequestIdMiddleware",
    "crm.observability.SlowRequestMiddleware",
    # Before the security, session and auth middlewares: /healthz and /readyz answer a load
    # balancer calling by IP over plain HTTP, and /healthz costs no query.
    "crm.health.HealthCheckMiddleware",
    # The shared versions (crm/shared.py), read once per request; and the cookie that keeps a
    # browser that has just written on the primary database for a few seconds (crm/replica.py).
    "crm.shared.SharedStateMiddleware",
    "crm.replica.ReplicaPinMiddleware",
    # Publishes to the broker that can wait for the answer (webhook events) are made once
    # the response has been sent (crm/broker.py).
    "crm.broker.EnqueueAfterResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "crm.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # In place of Django's LocaleMiddleware: the switcher's cookie, Accept-Language, then the
    # organisation's default (crm/languages.py); the user's choice comes after authentication.
    "crm.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's own language, once the authentication has loaded their row.
    "crm.middleware.UserLanguageMiddleware",
    "crm.middleware.OrganisationTimeZoneMiddleware",
    # Until the first-run set-up is done every page leads to it; afterwards it costs nothing.
    "crm.middleware.SetupRequiredMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.RefusalLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.middleware.RefusalMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.organisation",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "crm.templatetags.formats",
                # `{% url %}` and `{% static %}` with the links and the files' URLs worked
                # out once per process (crm/web/links.py): no `{% load static %}`.
                "crm.templatetags.links",
            ],
        },
    },
    {
        # Cards are rendered hundreds of times per board page; Jinja2 renders them
        # about four times faster than Django templates (see docs/performance.md).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "crm.web.jinja.environment", "autoescape": True},
    },
]

FORM_RENDERER = "crm.forms_renderer.FormRenderer"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: one writer at a time, so wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # Covering-index columns are a PostgreSQL optimisation; SQLite simply ignores them.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding: parameters travel apart from the SQL, so a statement can be
    # prepared. Django leaves psycopg's preparing off (no `prepare_threshold`) and it stays
    # off for everything but the statements `crm.prepared.prepared()` wraps: prepared, the
    # analytics' parameter-dependent plans got worse (docs/decisions.md).
    # JIT compilation pays off for long analytical queries, not for pages that must answer in
    # tens of milliseconds: it added ~80 ms to the review page's counts at 10k deals.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": env_bool("DATABASE_SERVER_SIDE_BINDING", True),
            "options": "-c jit=off",
            # A database that is restarting or unreachable answers "try again in a moment"
            # within seconds instead of holding the request (and the worker) for minutes.
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3),
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False

# A read replica (optional): the read-only report pages (forecast, analytics and their
# exports) read from it; everything else, and everything inside a transaction, uses the
# primary (crm/replica.py, README "Scaling").
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    DATABASES["replica"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        **DATABASES["replica"].get("OPTIONS", {}),
    }
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
READ_REPLICA = "replica" if DATABASE_REPLICA_URL else None
# After a write (any POST, PUT, PATCH or DELETE that succeeded), the writer's report pages read
# from the primary for this long, so they show what was just saved whatever the replica's lag.
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 10)
DATABASE_ROUTERS = ["crm.replica.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Django's password check behind a per-account and per-address throttle (accounts.backends).
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]
# After this many failed sign-ins within the window, an account (whatever the address) or an
# address (whatever the account) is refused, with the usual "wrong password" answer, until
# the window has passed. An office behind one NAT address may want a higher address limit.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_MINUTES = env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15)
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: the client
# address is REMOTE_ADDR and X-Forwarded-For is ignored (anyone can send one).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# A set-password link (invitations, resets by an admin) is valid this long, once.
PASSWORD_RESET_TIMEOUT = 60 * 60 * env_int("SET_PASSWORD_LINK_HOURS", 72)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The cache every web process, worker and node shares (crm/shared.py): Redis with REDIS_URL
# or CACHE_URL (redis://, rediss://, unix://), else the embedded default, files under var/cache
# that every process on this machine reads (CACHE_URL=file:///a/folder moves them). Never a
# per-process memory cache: a value one process drops after a write would live on in the
# others. A Redis outage answers like an empty cache (every read goes to the database) for
# CACHE_OUTAGE_SECONDS before the next try, so it never breaks a page.
CACHE_URL = env_str("CACHE_URL", "") or env_str("REDIS_URL", "")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "crm")
CACHE_OUTAGE_SECONDS = env_float("CACHE_OUTAGE_SECONDS", 5.0)
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {
            "BACKEND": "crm.shared.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "socket_connect_timeout": env_float("CACHE_CONNECT_TIMEOUT", 0.5),
                "socket_timeout": env_float("CACHE_TIMEOUT", 1.0),
            },
        }
    }
elif CACHE_URL.startswith("file://") or not CACHE_URL:
    _cache_dir = (
        Path(CACHE_URL.removeprefix("file://")) if CACHE_URL else BASE_DIR / "var" / "cache"
    )
    if not _cache_dir.is_absolute():
        raise ImproperlyConfigured("CACHE_URL=file://... needs an absolute path (file:///...).")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(_cache_dir),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 2000},
        }
    }
else:
    raise ImproperlyConfigured(
        "CACHE_URL (or REDIS_URL) must be redis://, rediss://, unix:// or file:///a/folder, "
        f"not {CACHE_URL.split('://')[0]!r}."
    )

# Sessions: rows in the database, read through the shared cache (one query less per request).
# Every node finds a session wherever it was written; a cache outage only sends the reads to
# the database, so nobody is signed out (docs/decisions.md).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Idle timeout: accounts.middleware.IdleTimeoutMiddleware signs out a session unused for this
# long; it refreshes the session at most once a minute, which also pushes the cookie's expiry.
IDLE_TIMEOUT_MINUTES = env_int("IDLE_TIMEOUT_MINUTES", 480)
SESSION_COOKIE_AGE = IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# British English formats (15 Feb 2027, 15/02/2027) read naturally for European teams.
LANGUAGE_CODE = "en-gb"
LANGUAGES = [
    ("en-gb", _("English")),
    ("da", _("Danish")),
    ("nb", _("Norwegian Bokmål")),
    ("sv", _("Swedish")),
    ("de", _("German")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's cookie (for pages before signing in): a year, like the choice it remembers.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = env_str("ORGANISATION_TIME_ZONE", "Europe/Copenhagen")
USE_I18N = True
USE_TZ = True
# Off: ids and versions in templates must never be grouped; money is grouped explicitly.
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("DJANGO_PLAIN_STATIC", False)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Organisation. One install serves one organisation; these are its defaults until an
# admin changes them in the settings pages.
ORGANISATION_NAME = env_str("ORGANISATION_NAME", "Nordlys Solutions")
REPORTING_CURRENCY = env_str("REPORTING_CURRENCY", "EUR")
# Fixed exchange rates for now: units of the reporting currency per unit of each currency.
EXCHANGE_RATES = {
    "EUR": Decimal("1"),
    "DKK": Decimal("0.1341"),
    "SEK": Decimal("0.0874"),
    "NOK": Decimal("0.0856"),
    "USD": Decimal("0.9210"),
    "GBP": Decimal("1.1690"),
}
if REPORTING_CURRENCY not in EXCHANGE_RATES:
    raise ImproperlyConfigured(f"REPORTING_CURRENCY must be one of {sorted(EXCHANGE_RATES)}.")
# Enough cards to fill a laptop-high column; the rest load as the column scrolls.
BOARD_PAGE_SIZE = env_int("BOARD_PAGE_SIZE", 12)

# Celery. Embedded default: the filesystem broker under var/, no servers.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    # Every folder kombu's filesystem transport uses, under var/: left out, one defaults to a
    # path relative to the working directory (control/ for the exchange tables: the worker's
    # pidbox wrote control/celery.pidbox.exchange into the repository).
    _broker_dir = BASE_DIR / "var" / "celery-broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
        "max_retries": 1,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# After a failed enqueue, crm.broker skips the broker for this long (per process) instead of
# paying a connection attempt per request; then one enqueue tries again.
BROKER_OUTAGE_SECONDS = env_int("BROKER_OUTAGE_SECONDS", 10)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_TASK_IGNORE_RESULT = True
# Beat polls; the tasks decide in the organisation's time zone (an admin setting that can
# change at any time) whether it is the digest hour or a new week. A missed poll is caught up.
CELERY_TIMEZONE = "UTC"
DIGEST_HOUR = env_int("DIGEST_HOUR", 7)
# How long an analytics page keeps the figures it computed for a set of filters, while no
# deal changed (0: compute on every request; the benchmark measures that).
ANALYTICS_CACHE_SECONDS = env_int("ANALYTICS_CACHE_SECONDS", 600)
CELERY_BEAT_SCHEDULE = {
    "flags-scan": {
        "task": "pipeline.flags_scan",
        "schedule": 60 * env_int("FLAG_SCAN_MINUTES", 15),
        "options": {"expires": 60 * env_int("FLAG_SCAN_MINUTES", 15)},
    },
    "daily-digest": {
        "task": "pipeline.digests_send",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 15 * 60},
    },
    "weekly-forecast-snapshot": {
        "task": "pipeline.forecast_snapshot",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 15 * 60},
    },
    "analytics-refresh": {
        "task": "pipeline.analytics_refresh",
        "schedule": 60 * 5,
        "options": {"expires": 60 * 5},
    },
    "nightly-tiers-recompute": {
        "task": "crm.tiers_recompute",
        "schedule": crontab(hour=2, minute=30),
    },
    # Starts imports whose message never reached a worker (the broker was down) or whose
    # worker died; a run that is alive holds the import's lock and the second one leaves.
    "imports-resume": {
        "task": "crm.imports_resume",
        "schedule": 60 * 2,
        "options": {"expires": 60 * 2},
    },
    # Sends webhook deliveries that are due: retries, and events whose message never reached a
    # worker (the broker was down when the change committed).
    "webhooks-sweep": {
        "task": "webhooks.deliveries_sweep",
        "schedule": env_int("WEBHOOKS_SWEEP_SECONDS", 30),
        "options": {"expires": env_int("WEBHOOKS_SWEEP_SECONDS", 30)},
    },
    "webhooks-outbox-prune": {
        "task": "webhooks.outbox_prune",
        "schedule": 60 * 60,
        "options": {"expires": 60 * 60},
    },
}

# Imports (crm.services.imports): the largest file accepted (bytes), the most data rows, and
# up to how many rows an import runs at once in the request instead of in the background.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 200_000)
IMPORT_INLINE_ROWS = env_int("IMPORT_INLINE_ROWS", 2000)

# Security. `manage.py check --deploy --fail-level WARNING` passes with DEBUG off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "accounts.views.auth.csrf_failure"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)

# Website lead forms (docs/product.md, "Website lead forms"). Posts to a form's public address
# are limited per client address (all forms together) and per form, in the shared cache
# ("10/hour": per s, min, hour or day); over either, 429 with Retry-After. A body over
# LEAD_FORM_MAX_BODY_BYTES is refused with 413 before it is read. A form sent sooner than
# LEAD_FORM_MIN_FILL_SECONDS after it was shown is treated as spam; one shown more than
# LEAD_FORM_TOKEN_MAX_AGE_HOURS ago asks the visitor to reload the page.
LEAD_FORM_ADDRESS_RATE = env_str("LEAD_FORM_ADDRESS_RATE", "10/hour")
LEAD_FORM_RATE = env_str("LEAD_FORM_RATE", "300/hour")
LEAD_FORM_MAX_BODY_BYTES = env_int("LEAD_FORM_MAX_BODY_BYTES", 16 * 1024)
LEAD_FORM_MIN_FILL_SECONDS = env_int("LEAD_FORM_MIN_FILL_SECONDS", 3)
LEAD_FORM_TOKEN_MAX_AGE_HOURS = env_int("LEAD_FORM_TOKEN_MAX_AGE_HOURS", 24)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# The sender's address; mail goes out under the organisation's current name (crm.mail).
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")
# Where people reach the CRM: every link in a mail (digest, invitations, password resets)
# starts with it, never with the Host header of whoever triggered the mail.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")) or "/" in SITE_URL.split("://", 1)[1]:
    raise ImproperlyConfigured(
        f"SITE_URL must be a scheme and host only, e.g. https://crm.example.com, not {SITE_URL!r}."
    )
# A slow mail server must not hold a web request (invitations are sent after commit).
EMAIL_TIMEOUT = 10

# Logging: one stream on stderr (the container's log), every line with the id of the request
# it belongs to ("-" outside a request). LOG_FORMAT=json writes one JSON object per line
# (timestamp, level, logger, message, request_id, exception) for a log collector.
# An unhandled error (500) is logged by `django.request` with its traceback; a 4xx (a 403
# from PermissionDenied, a 404, a bad Host) is one line without a traceback.
# A request slower than SLOW_REQUEST_SECONDS logs one `crm.requests` warning with its time and
# number of SQL queries (0 logs every request).
# Security events (accounts.security, logger `crm.security`): failed and locked sign-ins,
# sign-in and sign-out, password changes, refusals (403), CSRF failures, deactivations. One
# line each; never a password, session id, token or set-password link.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
SLOW_REQUEST_SECONDS = env_float("SLOW_REQUEST_SECONDS", 1.0)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "crm.observability.RequestIdFilter"},
        "client_error": {"()": "crm.observability.ClientErrorFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "crm.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "client_error"],
        },
    },
    # Every logger below writes through the root's one handler; other libraries only warn.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Replaces Django's default handlers (console only with DEBUG on, mail to ADMINS):
        # with DEBUG off a 500 used to be logged nowhere.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.security": {"level": "INFO"},
        "crm": {"level": "INFO"},
        "crm.security": {"level": "INFO"},
        "pipeline": {"level": "INFO"},
        "accounts": {"level": "INFO"},
        # Workers and beat log through this configuration too (crm/celery.py).
        "celery": {"level": "INFO"},
    },
}

# REST API (crm/api/): requests per personal API token, and requests with a wrong token per
# client address, in the shared cache ("120/min", per s, min, hour or day). Over either: 429
# with Retry-After.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/min")
API_AUTH_FAILURE_LIMIT = env_str("API_AUTH_FAILURE_LIMIT", "20/min")
# Webhooks (webhooks/, README "Webhooks"). Endpoints must use https unless WEBHOOKS_ALLOW_HTTP;
# deliveries to private, loopback, link-local, multicast or reserved addresses are refused
# (checked when sent, against the address connected to) unless WEBHOOKS_ALLOW_PRIVATE. Each
# attempt waits WEBHOOKS_CONNECT_TIMEOUT_SECONDS to connect and WEBHOOKS_READ_TIMEOUT_SECONDS
# per read; a failed one is retried after WEBHOOKS_RETRY_BASE_SECONDS, doubling each time, for
# WEBHOOKS_RETRY_HOURS. An endpoint is switched off after WEBHOOKS_DISABLE_AFTER_FAILURES
# failed attempts in a row, or when it has failed without a success for WEBHOOKS_RETRY_HOURS.
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", False)
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
WEBHOOKS_CONNECT_TIMEOUT_SECONDS = env_float("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 3.0)
WEBHOOKS_READ_TIMEOUT_SECONDS = env_float("WEBHOOKS_READ_TIMEOUT_SECONDS", 5.0)
WEBHOOKS_RETRY_BASE_SECONDS = env_int("WEBHOOKS_RETRY_BASE_SECONDS", 30)
WEBHOOKS_RETRY_HOURS = env_int("WEBHOOKS_RETRY_HOURS", 24)
WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("WEBHOOKS_DISABLE_AFTER_FAILURES", 50)
# Delivered and given-up deliveries (and their events) are kept this many days for the log.
WEBHOOKS_KEEP_DAYS = env_int("WEBHOOKS_KEEP_DAYS", 30)
# The largest request body the API reads (its bodies are a few hundred bytes): 413 beyond.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)
