"""Settings, all overridable from the environment (see README "Configuration").

Defaults are the zero-setup demo: SQLite and a filesystem Celery broker that needs no server.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # demo database, broker folders, logs


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


DEBUG = env_bool("DEBUG", True)
DEMO_SECRET_KEY = "demo-only-insecure-secret-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEMO_SECRET_KEY)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "shops",
    "payments",
    "gateways",
    "orders",
    "reservations",
    "registrations",
    "claims",
    "receipts",
    "refunds",
    "notices",
    "bulk",
    "batches",
    "api",
    "axes",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "payments_admin.middleware.ExplicitLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.CurrentRequestMiddleware",  # who did it, for the security audit log
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

ROOT_URLCONF = "payments_admin.urls"
WSGI_APPLICATION = "payments_admin.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + immediate transactions let web, worker and beat share the demo database.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)

LOGIN_URL = "admin:login"

REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or None)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Cache: rate-limit counters (and anything else shared between processes). Redis when there is one;
# the demo's single process keeps them in memory.
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "payments-admin")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": CACHE_KEY_PREFIX}
    if REDIS_URL else
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": CACHE_KEY_PREFIX}
}

# Security (README "Security"). Reverse proxies in front of us that append to X-Forwarded-For: the client
# address is the one the outermost of them saw (0 = use the connection's address).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Fixed-window request limits per client IP ("N/s|m|h|d"; "0" or empty switches one off).
WEBHOOK_RATE_LIMIT = os.environ.get("WEBHOOK_RATE_LIMIT", "600/m")
CUSTOMER_RATE_LIMIT = os.environ.get("CUSTOMER_RATE_LIMIT", "60/m")
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1200/min")  # per API token
RATE_LIMIT_KEY_PREFIX = "rl"  # cache keys of the counters (tests give each test its own)

# Login brute force (django-axes): locked per username AND client IP, so an attacker elsewhere cannot lock
# a real user out; the lockout page (429) says when to retry. Superusers unlock early in the admin (Axes).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "payments_admin.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "payments_admin.lockout.lockout_response"

if not DEBUG:
    # Production: refuse to start on demo defaults rather than run insecurely.
    if not SECRET_KEY or SECRET_KEY == DEMO_SECRET_KEY:
        raise ImproperlyConfigured("DEBUG=0 needs SECRET_KEY set to a long random value (the demo key is public).")
    if not os.environ.get("ALLOWED_HOSTS", "").strip(","):
        raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS (comma-separated host names this site answers to).")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):  # only when the TLS proxy sets (overwrites) the header
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REFERRER_POLICY = os.environ.get("SECURE_REFERRER_POLICY", "same-origin")
    X_FRAME_OPTIONS = "DENY"

# Gateways. Per-shop settings may override the base URL; credentials live on the shop (encrypted).
GMO_PG_BASE_URL = os.environ.get("GMO_PG_BASE_URL", "http://127.0.0.1:8765")
# Stripe (konbini): the API base for shops without their own override; the demo's sandbox by default.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:8765")
STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "2"))
# Webhook signatures older than this are refused (Stripe's libraries default to 300 s).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "300"))
# The konbini poll re-asks Stripe about a voucher still awaiting payment at most this often.
KONBINI_POLL_INTERVAL_SECONDS = int(os.environ.get("KONBINI_POLL_INTERVAL_SECONDS", "3600"))
# Hours (JST) of the staff digest of cancel requests (claims.digests; installed as a beat schedule).
CLAIM_DIGEST_HOURS = tuple(int(h) for h in os.environ.get("CLAIM_DIGEST_HOURS", "9,13,17").split(","))
GATEWAY_TIMEOUT_SECONDS = float(os.environ.get("GATEWAY_TIMEOUT_SECONDS", "30"))
# A pending operation older than this is no longer in flight anywhere: sync may resolve it.
PENDING_OPERATION_STALE_SECONDS = int(os.environ.get("PENDING_OPERATION_STALE_SECONDS", "120"))
# Redirect wallets (Recruit): the PG's authorization period and what one extension adds (contract values),
# after how long an unfinished checkout counts as abandoned (要確認), and the buyer's checkout-page origin.
WALLET_AUTH_VALIDITY_DAYS = int(os.environ.get("WALLET_AUTH_VALIDITY_DAYS", "90"))
WALLET_AUTH_EXTENSION_DAYS = int(os.environ.get("WALLET_AUTH_EXTENSION_DAYS", "30"))
WALLET_ABANDONED_AFTER_SECONDS = int(os.environ.get("WALLET_ABANDONED_AFTER_SECONDS", "1800"))
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", os.environ.get("ADMIN_BASE_URL", "http://127.0.0.1:8000"))
# Key for encrypting gateway credentials at rest; derived from SECRET_KEY when unset.
CREDENTIALS_KEY = os.environ.get("CREDENTIALS_KEY", "")

# Batches: concurrent gateway reads in the status sync; links in digest mails.
BATCH_GATEWAY_CONCURRENCY = int(os.environ.get("BATCH_GATEWAY_CONCURRENCY", "4"))
ADMIN_BASE_URL = os.environ.get("ADMIN_BASE_URL", "http://127.0.0.1:8000")

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "payments-admin@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ShopTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api.permissions.HasScope"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.NewestFirstCursor",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.StrictFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.ApiTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_token": API_RATE_LIMIT},
}
# Idempotency-Key records: an in-flight claim older than this belongs to a dead worker; kept this many days.
IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS = int(os.environ.get("IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS", "600"))
IDEMPOTENCY_RETENTION_DAYS = int(os.environ.get("IDEMPOTENCY_RETENTION_DAYS", "7"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Payments admin API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Per-shop API over the same services as the admin: orders, payments, reservations, "
                   "registrations, claims, refund tasks and bulk runs. Bearer tokens with scopes; "
                   "Idempotency-Key on every write; cursor pagination; one error body.",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"PaymentMethodEnum": "payments.models.Method", "CheckoutMethodEnum": ["card", "recruit"],
                            "ReservationStatusEnum": "reservations.models.Status",
                            "RegistrationStatusEnum": "registrations.models.RegistrationStatus",
                            "LineStatusEnum": "registrations.models.LineStatus",
                            "LinkageEnum": "registrations.models.Linkage",
                            "ReservationPaymentMethodEnum": "reservations.models.PaymentMethod",
                            "PaymentStatusEnum": "payments.models.Status",
                            "ClaimKindEnum": "claims.models.ClaimKind", "ClaimStateEnum": "claims.models.ClaimState",
                            "RefundTaskStatusEnum": "refunds.models.RefundTaskStatus",
                            "BulkRunKindEnum": "bulk.models.BulkRun.Kind",
                            "BulkRunStatusEnum": "bulk.models.BulkRun.Status",
                            "BulkItemStateEnum": "bulk.models.BulkRunItem.State"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_error_responses"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
