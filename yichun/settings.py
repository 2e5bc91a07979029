"""Settings for the Yichun project tracker, read from the environment.

One file on purpose: every difference between a laptop and production is an
environment variable, listed in README.md.
"""

import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def parse_database_url(url):
    """Turn ``sqlite:///path`` or ``postgres://user:pw@host:port/name`` into a DATABASES entry."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db → "relative.db"; sqlite:////abs/path.db → "/abs/path.db"
        name = path[1:] if path.startswith("/") else path
        name = name or str(BASE_DIR / "db.sqlite3")
        if not os.path.isabs(name):
            name = str(BASE_DIR / name)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # WAL lets readers and one writer work at once; the busy timeout makes a
                # second gunicorn worker wait for the lock instead of failing at once.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": options.get("test_name") or None},
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        # PostgreSQL's JIT compiler is off unless the URL's own ``options`` say otherwise: the
        # per-row as-of joins (tracker/asof.py) have high cost estimates over a province's
        # book, which made PostgreSQL JIT-compile them — measured at 20,000 projects, 1.8–2.9 s
        # of compilation per grouped 月通报 query against 0.5–0.9 s of execution, and the
        # dashboard 1.2 s with JIT against 0.21 s without. Our queries are short; JIT never paid.
        options.setdefault("options", "-c jit=off")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "yichun",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", 60)),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
SECRET_KEY_IS_EPHEMERAL = False
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-local-development-key-only-used-with-DJANGO_DEBUG-on"
    else:
        # Management commands (migrate, makemigrations --check, seed …) sign nothing that
        # must outlive the process, so a throw-away key lets them run. Serving needs the
        # real, shared key: yichun/wsgi.py and asgi.py refuse to start without it.
        SECRET_KEY = secrets.token_urlsafe(50)
        SECRET_KEY_IS_EPHEMERAL = True

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_tasks",  # the backport of Django 6.0's django.tasks (README "Background work")
    "django_tasks_db",  # its database backend: the queue lives in DATABASES["default"]
    "tracker",
    "tracker.apps.LoginAttemptsConfig",  # django-axes, with a Chinese name in the admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tracker.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tracker.sessions.SessionLimitsMiddleware",
    "tracker.middleware.NotFoundPageMiddleware",  # the Chinese 404 page with DEBUG on too
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees the login view's outcome and every other middleware (security
    # headers, CSP) still processes the lockout page it returns.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "yichun.urls"
WSGI_APPLICATION = "yichun.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tracker.context_processors.nav_items",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tracker.User"
# --- Login, passwords, sessions and HTTPS (issue 8; README "Login security and HTTPS"). ---
# Passwords (OWASP ASVS L2, V2.1): 12 to 128 characters, not common, neither like nor
# containing the person's username, name or e-mail, not all digits, not a few characters
# repeated (tracker/passwords.py).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        # tracker.User has no display-name field beyond Django's first and last name.
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email")},
    },
    {"NAME": "tracker.passwords.PersonalInformationValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "tracker.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "tracker.passwords.CharacterVarietyValidator", "OPTIONS": {"min_distinct": 5}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Login throttling with django-axes, counted in the database so that every app process
# shares the count. A username is locked after AXES_FAILURE_LIMIT failures from any
# addresses, and an address after as many failures for any usernames; the lock lifts by
# itself after the cool-off (never a permanent lock). The axes backend comes first: a
# locked-out attempt is refused before the password is even hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "tracker.login_throttle.LoginThrottleHandler"  # the database handler
AXES_FAILURE_LIMIT = int(os.environ.get("DJANGO_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("DJANGO_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Attempts made while locked out do not restart the cool-off: the real user trying again
# during the lock is not punished, and the lock always ends one cool-off after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "tracker.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tracker.login_throttle.client_address"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # successes (AccessLog) and failures, for the admin
AXES_ENABLE_ADMIN = False  # tracker/admin.py shows the records read-only
# Reverse proxies in front of the app that append the client's address to
# X-Forwarded-For (0: the app is reached directly, and REMOTE_ADDR is the client).
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))

# Sessions live in the database so that any app process can serve any request. They end
# after SESSION_IDLE_SECONDS without a request and SESSION_MAX_SECONDS after the login
# (tracker/sessions.py); the database row and the cookie expire with them.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_IDLE_SECONDS = int(os.environ.get("DJANGO_SESSION_IDLE_SECONDS", "1800"))
SESSION_MAX_SECONDS = int(os.environ.get("DJANGO_SESSION_MAX_SECONDS", "43200"))
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# HTTPS. On by default without DEBUG; DJANGO_SECURE_SSL_REDIRECT=0, DJANGO_SECURE_HSTS_SECONDS=0
# and DJANGO_SECURE_COOKIES=0 let a bench or the test run serve plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# The load balancer's health check calls plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
)
# The tracker has a host name of its own: its subdomains are its own too.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is decided for a whole registrable domain (the city's, not the tracker's) and
# cannot reach an intranet name, so it is off and its deploy-check warning is silenced.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# The project list's covering index (its INCLUDE (id) column) is PostgreSQL's; on SQLite the
# same index without it is what is wanted (migration 0015), so its warning is silenced.
SILENCED_SYSTEM_CHECKS += ["models.W040"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and that nothing can bypass).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER") else None
)
# --- end of issue 8's login/session/HTTPS block ---

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves the hashed, compressed names that collectstatic lists in its manifest.
# With DEBUG, and in a test run (pytest sets PYTEST_VERSION before it loads these settings),
# nothing is collected: the plain storage. DJANGO_STATIC_MANIFEST=1 or 0 decides either way.
STATIC_MANIFEST = env_bool(
    "DJANGO_STATIC_MANIFEST", not DEBUG and "PYTEST_VERSION" not in os.environ
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# No cache is shared between processes; the default local-memory cache is only used
# for things that may differ per process without harm. Nothing else keeps state in memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}


def env_decimal(name, default):
    return Decimal(os.environ.get(name, default))


# --- Domain rules that DOMAIN.md marks as assumptions [A]: settings, never hard-coded. ---
TRACKER = {
    # "5020" tiers. Domestic thresholds are confirmed, in 万元 (20 亿元, 50 亿元).
    "TIER_5020_DOMESTIC": (
        env_decimal("TRACKER_5020_DOMESTIC_20", "200000"),
        env_decimal("TRACKER_5020_DOMESTIC_50", "500000"),
    ),
    # Foreign-capital thresholds are not confirmed: in 万美元, converted at USD_CNY.
    "TIER_5020_FOREIGN_USD": (
        env_decimal("TRACKER_5020_FOREIGN_20_USD", "30000"),
        env_decimal("TRACKER_5020_FOREIGN_50_USD", "70000"),
    ),
    "USD_CNY": env_decimal("TRACKER_USD_CNY", "7.0"),
    # 亿元以上项目: ≥ 1 亿元 = 10,000 万元.
    "BILLION_THRESHOLD": env_decimal("TRACKER_BILLION_THRESHOLD", "10000"),
    # Completed investment may not exceed the signed amount by more than this ratio.
    "MAX_COMPLETED_RATIO": env_decimal("TRACKER_MAX_COMPLETED_RATIO", "1.5"),
    # Weekly dispatch deadline: ISO weekday (1 = Monday) and local time.
    "DISPATCH_DEADLINE_WEEKDAY": int(os.environ.get("TRACKER_DISPATCH_DEADLINE_WEEKDAY", "5")),
    "DISPATCH_DEADLINE_TIME": os.environ.get("TRACKER_DISPATCH_DEADLINE_TIME", "18:00"),
    # How many weeks before the current one county staff and commissioners may still file.
    "DISPATCH_OPEN_WEEKS_BACK": int(os.environ.get("TRACKER_DISPATCH_OPEN_WEEKS_BACK", "1")),
    # Rows per page of the weekly dispatch sheet; each page is filed with its own submit.
    "DISPATCH_SHEET_PAGE_SIZE": int(os.environ.get("TRACKER_DISPATCH_SHEET_PAGE_SIZE", "200")),
    # Warning lights (红黄绿灯): days late to start, points behind the pro-rata schedule.
    "WARN_START_YELLOW_DAYS": int(os.environ.get("TRACKER_WARN_START_YELLOW_DAYS", "30")),
    "WARN_START_RED_DAYS": int(os.environ.get("TRACKER_WARN_START_RED_DAYS", "90")),
    "WARN_INVEST_YELLOW_POINTS": env_decimal("TRACKER_WARN_INVEST_YELLOW_POINTS", "10"),
    "WARN_INVEST_RED_POINTS": env_decimal("TRACKER_WARN_INVEST_RED_POINTS", "30"),
    # Daily overdue check: how many past weeks to look at for missing dispatches.
    "OVERDUE_LOOKBACK_WEEKS": int(os.environ.get("TRACKER_OVERDUE_LOOKBACK_WEEKS", "8")),
    # Monthly report: the rates that order the region ranking, first decisive first.
    "REPORT_RANKING": env_list("TRACKER_REPORT_RANKING", "start,funds,performance"),
    # Monthly report: the issuer's abbreviation in its reference number (宜工信通〔2022〕12号).
    "REPORT_REFERENCE_PREFIX": os.environ.get("TRACKER_REPORT_REFERENCE_PREFIX", "宜工信通"),
    # Monthly report page: how many red/yellow projects it lists, most urgent first (the XLSX
    # lists them all).
    "REPORT_WARNINGS_ON_PAGE": int(os.environ.get("TRACKER_REPORT_WARNINGS_ON_PAGE", "200")),
    # The body that issues the 月通报 and the exported files (their title rows and print headers).
    "ISSUING_BODY": os.environ.get("TRACKER_ISSUING_BODY", "宜春市工业和信息化局"),
    # Annual assessment: how many top-ranked regions win the overall award.
    "ASSESSMENT_TOP_N": int(os.environ.get("TRACKER_ASSESSMENT_TOP_N", "3")),
}

# --- Background work (issue 10; README "Background work"). ---
# The queue is a table of the app's own database: workers on any host that reaches the
# database take tasks from it (`manage.py run_worker`), and nothing else has to run.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
TRACKER.update(
    {
        # A list export of more rows than this becomes a background job (smaller: at once).
        "EXPORT_BACKGROUND_ROWS": int(os.environ.get("TRACKER_EXPORT_BACKGROUND_ROWS", "5000")),
        # Imports (issue 11): the largest file and number of rows taken, and from how many
        # rows the preview and the applying run as a background job.
        "IMPORT_MAX_BYTES": int(os.environ.get("TRACKER_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))),
        "IMPORT_MAX_ROWS": int(os.environ.get("TRACKER_IMPORT_MAX_ROWS", "20000")),
        "IMPORT_BACKGROUND_ROWS": int(os.environ.get("TRACKER_IMPORT_BACKGROUND_ROWS", "1000")),
        # Finished jobs (and their files) are deleted after this many days.
        "JOB_KEEP_DAYS": int(os.environ.get("TRACKER_JOB_KEEP_DAYS", "7")),
        # A running job's worker writes a heartbeat this often; a job whose heartbeat is
        # older than JOB_STALE_SECONDS lost its worker and is queued again, at most
        # JOB_MAX_ATTEMPTS times in all.
        "JOB_HEARTBEAT_SECONDS": float(os.environ.get("TRACKER_JOB_HEARTBEAT_SECONDS", "10")),
        "JOB_STALE_SECONDS": float(os.environ.get("TRACKER_JOB_STALE_SECONDS", "60")),
        "JOB_MAX_ATTEMPTS": int(os.environ.get("TRACKER_JOB_MAX_ATTEMPTS", "3")),
        # The daily overdue check runs once a day after this local time (Asia/Shanghai).
        "OVERDUE_CHECK_TIME": os.environ.get("TRACKER_OVERDUE_CHECK_TIME", "00:30"),
        # A bulk change on the project list touches at most this many projects at once.
        "BULK_MAX_ROWS": int(os.environ.get("TRACKER_BULK_MAX_ROWS", "10000")),
        # A bulk change of more projects than this runs as a background job.
        "BULK_BACKGROUND_ROWS": int(os.environ.get("TRACKER_BULK_BACKGROUND_ROWS", "500")),
    }
)

# A page of the weekly sheet posts about a dozen fields per row (the row, its versions, the
# figures with their pre-filled values, the check box): Django's default limit of 1000 fields
# would refuse a full page of DISPATCH_SHEET_PAGE_SIZE rows with a 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 16 * TRACKER["DISPATCH_SHEET_PAGE_SIZE"] + 100

DEMO_PASSWORD = "Yichun-demo-2022"
