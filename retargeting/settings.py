"""Settings for Relance, read from the environment (and an optional `.env` file).

Every setting a shop operator may change is listed in `.env.example` and in
docs/configuration.md. The embedded defaults (DEBUG on, no variable set) need no external
server: SQLite in WAL mode, a file-system Celery broker, a file-based cache, a SQLite store
for the rate and confirmation limits and the `outbox` SMS backend. With DEBUG off, the
settings that production cannot guess are required and a missing one stops start-up with one
line naming it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ

from retargeting.gateways import registry as _providers

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# ENV_FILE names another file; an empty ENV_FILE reads none.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    # Variables already in the environment win over the file.
    env.read_env(ENV_FILE, overwrite=False)
# What the embedded mode writes (SQLite database, file cache, file-system broker); each test
# worker of `make test` has its own (tests/support/xdist_workers.py).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
PORT = env.int("PORT", default=8000)


def _missing(name: str) -> bool:
    return not env.str(name, default="").strip()


_required = []
if not DEBUG:
    _required += ["SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_BASE_URL"]
_missing_names = [name for name in _required if _missing(name)]
# The SMS provider: an alias (outbox, twilio, brevo) or the dotted path of a Gateway class, as
# Django's EMAIL_BACKEND. Each provider checks its own settings (retargeting/gateways/registry.py).
SMS_BACKEND = env.str("SMS_BACKEND", default="outbox").strip()
try:
    _sms_problems = _providers.check_settings(SMS_BACKEND, channel="sms", env=env, debug=DEBUG)
except _providers.UnknownProvider as exc:
    sys.stderr.write(f"relance: {exc}\n")
    raise SystemExit(1) from None
_missing_names += _sms_problems.missing
if _missing_names:
    why = "required when DEBUG is off" if not DEBUG else f"required by SMS_BACKEND={SMS_BACKEND}"
    sys.stderr.write(f"relance: missing required setting: {', '.join(_missing_names)} ({why})\n")
    raise SystemExit(1)
if _sms_problems.wrong:
    sys.stderr.write("".join(f"relance: {line}\n" for line in _sms_problems.wrong))
    raise SystemExit(1)
# The outbox keeps every message on the machine and shows them on the phone simulator: with
# DEBUG off its settings check stops start-up unless this says it is on purpose (staging).
SMS_OUTBOX_IN_PRODUCTION = env.bool("SMS_OUTBOX_IN_PRODUCTION", default=False)

SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-relance-development-key-never-use-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
if _public.scheme not in ("http", "https") or not _public.netloc:
    sys.stderr.write(
        f"relance: PUBLIC_BASE_URL must be an http(s) origin, not {PUBLIC_BASE_URL!r}\n"
    )
    raise SystemExit(1)
CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]
# A shorter origin for the links in SMS (its host must be in ALLOWED_HOSTS and route here);
# empty: PUBLIC_BASE_URL.
SHORT_LINK_BASE_URL: str = env.str("SHORT_LINK_BASE_URL", default="").rstrip("/")
if SHORT_LINK_BASE_URL and urlsplit(SHORT_LINK_BASE_URL).scheme not in ("http", "https"):
    sys.stderr.write(
        f"relance: SHORT_LINK_BASE_URL must be an http(s) origin, not {SHORT_LINK_BASE_URL!r}\n"
    )
    raise SystemExit(1)

# HTTPS follows the scheme the world sees: a developer's http:// base redirects nothing.
_https = _public.scheme == "https"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _https
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=2_592_000 if _https else 0)
# Relance's own host and the hosts under it (not the shops'): HTTPS only.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is hard to undo and names the operator's whole domain: their decision, so the
# deployment check's reminder about it is silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "retargeting",
    "retargeting.sites",
    "retargeting.tracking",
    "retargeting.gateways",
    "retargeting.platforms",
    "optin",
    "campaigns",
]

MIDDLEWARE = [
    "retargeting.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "retargeting.web.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "retargeting.sites.member_language.MemberLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "retargeting.urls"
WSGI_APPLICATION = "retargeting.wsgi.application"

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
            ],
        },
    },
]

# Database: SQLite in WAL mode by default (readers never wait for the writer; the web,
# worker and beat processes share one file), PostgreSQL in production.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'relance.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=10000;"
            "PRAGMA foreign_keys=ON;"
        ),
        # Take the write lock at BEGIN so two writers queue instead of failing mid-transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests that start real worker processes need a database file they can open too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-relance.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and Celery broker: Redis when REDIS_URL is set; otherwise the file system, which
# every process on the machine shares (see docs/architecture-decisions.md).
# The rate and confirmation limits count in the `limits` cache (retargeting/web/ratelimit.py):
# Redis too when it is there; otherwise a store that never drops a live counter
# (retargeting/web/counter_store.py), where the file-based cache culled a third of its entries
# past 300 and a flood of page views reset every limit.
REDIS_URL = env.str("REDIS_URL", default="")
# With DEBUG off the limits need Redis, shared by every process of every machine. The embedded
# store is shared by one machine's processes only; a production on one machine may keep it, on
# purpose.
EMBEDDED_LIMITS_IN_PRODUCTION = env.bool("EMBEDDED_LIMITS_IN_PRODUCTION", default=False)
if not DEBUG and not REDIS_URL and not EMBEDDED_LIMITS_IN_PRODUCTION:
    sys.stderr.write(
        "relance: missing required setting: REDIS_URL (required when DEBUG is off: the rate and "
        "confirmation limits need a store every process shares; EMBEDDED_LIMITS_IN_PRODUCTION=1 "
        "keeps them in var/ for the processes of one machine, on purpose)\n"
    )
    raise SystemExit(1)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "relance",
        }
    }
    # The same keys as the default cache: the collector's buffer counts in them too.
    CACHES["limits"] = dict(CACHES["default"])
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than the longest task: an unacknowledged task is redelivered after this.
        "visibility_timeout": 3600,
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": "relance",
        },
        "limits": {
            "BACKEND": "retargeting.web.counter_store.CounterStore",
            "LOCATION": str(VAR_DIR / "limits.sqlite3"),
            "KEY_PREFIX": "relance",
        },
    }
    _broker_dir = Path(env.str("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "celery")))
    # The host named: kombu otherwise warns, at every start, that none was given.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        # Kept on the same file system as the queue so a worker takes a message with an
        # atomic rename; `runall` and the beat task prune it.
        "store_processed": True,
        "processed_folder": str(_broker_dir / "processed"),
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "dispatch"
# Sending has its own queue: a slow provider never holds up detection.
# Writing the collector's buffer has its own queue too: a long dispatch pass never delays it.
CELERY_TASK_ROUTES = {
    "campaigns.tasks.deliver_send": {"queue": "sms"},
    "campaigns.tasks.deliver_sends": {"queue": "sms"},
    "retargeting.tasks.ingest_events": {"queue": "ingest"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How often beat starts the dispatch pass. A cart is reminded at most this late after its delay.
DISPATCH_INTERVAL_SECONDS = max(1, env.int("DISPATCH_INTERVAL_SECONDS", default=60))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# 24-hour times in English too (retargeting/formats).
FORMAT_MODULE_PATH = ["retargeting.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The embedded database, cache and broker live in var/; collectstatic fills var/static.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
# What every request, task and scheduler tick logs ("GET / 200", a task received and
# succeeded, "Sending due task": the ingest task's alone is three lines a second) counts as
# debug output: shown with LOG_LEVEL=DEBUG only. Their warnings and errors always show.
_CHATTER = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": _CHATTER},
        "celery.beat": {"level": _CHATTER},
        "celery.app.trace": {"level": _CHATTER},
        "celery.worker.strategy": {"level": _CHATTER},
        "django.db.backends": {"level": "WARNING"},
        # The SDK logs ten lines of headers per message at INFO; its errors still show.
        "twilio.http_client": {"level": "WARNING"},
        # httpx (under Brevo's SDK) logs every request at INFO, its URL included.
        "httpx": {"level": "WARNING"},
    },
}

# --- Relance -------------------------------------------------------------------------------
# SMS providers' settings (each provider's settings_check.py says which it requires).
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Points the official SDK at a Twilio-compatible API or a local emulator.
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
# Brevo (SMS_BACKEND=brevo): the API key, the default sender (a site's own sender replaces
# it), and the API's address (another Brevo-compatible API, or a local emulator).
BREVO_API_KEY = env.str("BREVO_API_KEY", default="")
BREVO_SENDER = env.str("BREVO_SENDER", default="").strip()
BREVO_API_BASE_URL = env.str("BREVO_API_BASE_URL", default="https://api.brevo.com/v3").rstrip("/")
# Seconds to wait for the provider's API before the attempt counts as a transient failure.
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
# Messages (segments) per second per sender, shared by every worker; per-sender overrides as
# JSON, e.g. {"+33757000000": 30, "MAISON": 5}.
SMS_DEFAULT_MPS = env.float("SMS_DEFAULT_MPS", default=10.0)
SMS_SENDER_MPS = env.json("SMS_SENDER_MPS", default={})
# Provider error codes mapped to actions, added to or overriding each provider's table
# (retargeting/gateways/<provider>/errors.py), as JSON, e.g. {"30008": "retry"}.
SMS_ERROR_ACTIONS = env.json("SMS_ERROR_ACTIONS", default={})
# Price of one SMS segment by the recipient's country (ISO code; "*" for the others), for
# the cost shown in previews and on the dashboard. Defaults: indicative list prices.
SMS_PRICES = env.json(
    "SMS_PRICES", default={"FR": "0.045", "BE": "0.07", "CH": "0.06", "US": "0.0083", "*": "0.08"}
)
SMS_PRICE_CURRENCY = env.str("SMS_PRICE_CURRENCY", default="EUR")

# Email (the second channel), by the providers' registry (retargeting/gateways/registry.py,
# docs/email-providers.md): EMAIL_PROVIDER names one (outbox, smtp, brevo, or a gateway's
# dotted path); else SMTP when EMAIL_URL is set; else the outbox (kept on the machine, shown
# at /dev/mail/) in development, and no email at all with DEBUG off (the channel is off,
# said at start-up) unless EMAIL_OUTBOX_IN_PRODUCTION keeps them on the machine on purpose.
# Each provider checks its own settings, as the SMS providers do, and gives EMAIL_BACKEND
# (Django's own emails take the same road).
EMAIL_URL = env.str("EMAIL_URL", default="")
EMAIL_OUTBOX_IN_PRODUCTION = env.bool("EMAIL_OUTBOX_IN_PRODUCTION", default=False)
try:
    EMAIL_PROVIDER = _providers.email_provider(
        name=env.str("EMAIL_PROVIDER", default=""),
        email_url=EMAIL_URL,
        debug=DEBUG,
        outbox_in_production=EMAIL_OUTBOX_IN_PRODUCTION,
    )
    _email_problems = _providers.check_settings(
        EMAIL_PROVIDER or _providers.NO_EMAIL, channel="email", env=env, debug=DEBUG
    )
except _providers.UnknownProvider as exc:
    sys.stderr.write(f"relance: {exc}\n")
    raise SystemExit(1) from None
if _email_problems.missing:
    why = _email_problems.why or f"required by EMAIL_PROVIDER={EMAIL_PROVIDER}"
    names = ", ".join(_email_problems.missing)
    sys.stderr.write(f"relance: missing required setting: {names} ({why})\n")
    raise SystemExit(1)
if _email_problems.wrong:
    sys.stderr.write("".join(f"relance: {line}\n" for line in _email_problems.wrong))
    raise SystemExit(1)
if not EMAIL_PROVIDER:  # the channel is off: Django's own emails go nowhere either
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
vars().update(_email_problems.settings)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Relance <relance@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Emails per second per sender, shared by every worker (as SMS_DEFAULT_MPS for SMS).
EMAIL_MPS = env.float("EMAIL_MPS", default=50.0)

# Event requests per minute per site and client IP; 0 turns the limit off.
COLLECTOR_RATE_LIMIT = env.int("COLLECTOR_RATE_LIMIT", default=600)
# Page views and carts wait in Redis streams (when REDIS_URL is set) and are written to the
# database in batches by the ingest task; identify and purchase events are always written
# before the answer. Off: every event is written in the request (the embedded default).
COLLECTOR_BUFFER = env.bool("COLLECTOR_BUFFER", default=bool(REDIS_URL))
# Streams the buffer is split over, by visitor; each is drained by one consumer at a time,
# so this is how many ingest tasks can write in parallel.
COLLECTOR_BUFFER_SHARDS: int = env.int("COLLECTOR_BUFFER_SHARDS", default=4)
# `make bench` turns on a no-op view (`/bench/noop`), the reference the collector is measured
# against in the same server. Off everywhere else.
BENCHMARK_ENDPOINTS = env.bool("BENCHMARK_ENDPOINTS", default=False)
# The key of the hashes that keep erased numbers that said STOP from being messaged again.
# Set it once and keep it: a new key forgets those numbers. Defaults to SECRET_KEY.
ERASURE_HASH_KEY = env.str("ERASURE_HASH_KEY", default="") or SECRET_KEY
# Retention (RGPD): raw events are purged after EVENT_RETENTION_DAYS (13 months by
# default) and prospects with no activity for PROSPECT_RETENTION_DAYS (3 years) are erased.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=395)
PROSPECT_RETENTION_DAYS = env.int("PROSPECT_RETENTION_DAYS", default=1095)
# Product views (one row per browser, product and day) are purged after this many days.
# Browse reminders need 2 (a view goes stale after 48 h; their 7-day cooldown reads the sends,
# not the views); 90 keeps a season of "viewed product X in the last N days" for segments.
PRODUCT_VIEW_RETENTION_DAYS = env.int("PRODUCT_VIEW_RETENTION_DAYS", default=90)
if PRODUCT_VIEW_RETENTION_DAYS < 3:
    sys.stderr.write(
        "relance: PRODUCT_VIEW_RETENTION_DAYS must be at least 3 (browse reminders read the "
        f"views of the last 48 hours), not {PRODUCT_VIEW_RETENTION_DAYS}\n"
    )
    raise SystemExit(1)
# Event requests per minute from one visitor id (a browser flushes a few times a minute).
COLLECTOR_VISITOR_RATE_LIMIT = env.int("COLLECTOR_VISITOR_RATE_LIMIT", default=120)
# The bridge (`email_cart`: a shopper asks for the cart by email) per day (UTC): from one
# browser, to one address, and for one site. Over a browser's or the site's limit the answer is
# 429; over an address's, 204 and nothing sent (so nobody learns what others asked). 0: no limit.
# The order's own messages (confirmation, shipping) are held at night only, in the
# recipient's zone, every day ("HH:MM-HH:MM" closed; "none": never held).
TRANSACTIONAL_QUIET_HOURS = env.str("TRANSACTIONAL_QUIET_HOURS", default="21:00-08:00")
if not re.fullmatch(
    r"\s*(none|)\s*|\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*-\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*",
    TRANSACTIONAL_QUIET_HOURS,
    flags=re.IGNORECASE,
) or re.fullmatch(r"\s*(\d\d:\d\d)\s*-\s*\1\s*", TRANSACTIONAL_QUIET_HOURS):
    sys.stderr.write(
        "relance: TRANSACTIONAL_QUIET_HOURS must be HH:MM-HH:MM (the night, e.g. 21:00-08:00) "
        f"or none, not {TRANSACTIONAL_QUIET_HOURS!r}\n"
    )
    raise SystemExit(1)
EMAIL_CART_PER_VISITOR_PER_DAY = env.int("EMAIL_CART_PER_VISITOR_PER_DAY", default=3)
EMAIL_CART_PER_ADDRESS_PER_DAY = env.int("EMAIL_CART_PER_ADDRESS_PER_DAY", default=3)
EMAIL_CART_PER_SITE_PER_DAY = env.int("EMAIL_CART_PER_SITE_PER_DAY", default=1000)
# Seconds the collector waits for the next bytes of a body shorter so far than its
# Content-Length, in both servers; then 408 and the connection is closed (nothing stored).
COLLECTOR_BODY_TIMEOUT = env.float("COLLECTOR_BODY_TIMEOUT", default=10.0)
# How many reverse proxies in front of Relance append to X-Forwarded-For (0: none, trust
# REMOTE_ADDR). Behind one TLS proxy: 1.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
