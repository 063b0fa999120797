"""Base settings, driven entirely by environment variables.

No variable set gives the embedded default: SQLite, local files and a
filesystem Celery broker, all under HOLDFAST_DATA_DIR. DATABASE_URL, REDIS_URL
and the S3 variables move each part to a server.
"""

from datetime import timedelta
from pathlib import Path

import environ

from common.app_list import LOCAL_APPS

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEFAULT_SECRET_KEY = "holdfast-insecure-development-key-change-me"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "common.not_found.csrf_failure"  # JSON under /api/
DJANGO_ENV = env("DJANGO_ENV", default="local")
APP_VERSION = "0.1.0"

DATA_DIR = Path(env("HOLDFAST_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
CACHE_DIR = DATA_DIR / ".cache"
LOG_DIR = Path(env("LOG_DIR", default=str(DATA_DIR / "logs"))).resolve()
# Request logs (LOG_DIR/holdfast-YYYY-MM-DD.jsonl) older than this are pruned by beat.
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=14)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    *LOCAL_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.middleware.RequestBodyGuardMiddleware",  # 413 / 400 before anything reads
    "common.request_logs.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # app pages; /p/ previews set their own, stricter one
    "simple_history.middleware.HistoryRequestMiddleware",
    "durability.middleware.SchemaVersionGuardMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Content-Security-Policy for app pages (django-csp) ---------------------------------
# Scripts only from this origin (htmx is vendored under /static/); inline style attributes
# are allowed (htmx's indicator styles, a few templates). Swagger UI (/api/docs/) ships
# inline scripts, so it keeps its own page without this header.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ("/api/docs/",),
    "DIRECTIVES": {
        "default-src": ("'self'",),
        "script-src": ("'self'",),
        "style-src": ("'self'", "'unsafe-inline'"),
        "img-src": ("'self'", "data:"),
        "object-src": ("'none'",),
        "base-uri": ("'self'",),
        "form-action": ("'self'",),
        "frame-ancestors": ("'self'",),
    },
}

# --- database -------------------------------------------------------------
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000; PRAGMA synchronous=NORMAL;"
    ),
}
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            "OPTIONS": SQLITE_OPTIONS,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# The tenant: governance resolves every registered tenant path to this model.
TENANT_MODEL = "workspaces.Workspace"
AUTHENTICATION_BACKENDS = [
    # First: refuses any login attempt while the account or the address is locked out.
    "accounts.backends.LockoutBackend",
    # Email or handle plus password; refuses suspended and banned users.
    "accounts.backends.EmailOrHandleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# Open sign-up at /accounts/signup/; false shows "sign-up is closed" (invitations still work
# for people who already have an account).
SIGNUP_OPEN = env.bool("SIGNUP_OPEN", default=True)
# The absolute base of links in emails (invitations, password resets sent from tasks).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
INVITATION_TTL_SECONDS = env.int("INVITATION_TTL_SECONDS", default=7 * 24 * 3600)

# --- login rate limiting (django-axes) ---------------------------------------
# Failed attempts are counted per account (the user an email or handle names) and,
# separately, per client address; either reaching the limit locks it for the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.login_identity"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # only failures are kept; successful logins are not logged
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_VERBOSE = False

# --- email: files under data/mail/ by default, SMTP with EMAIL_URL -----------
MAIL_DIR = DATA_DIR / "mail"
MAIL_RETENTION_DAYS = env.int("MAIL_RETENTION_DAYS", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Holdfast <holdfast@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(MAIL_DIR)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- storage: local folder by default, S3-compatible bucket when configured --
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
BACKUP_ROOT = DATA_DIR / "backups"
# Scheduled backups (durability): interval, retention, verification drill.
BACKUP_INTERVAL_SECONDS = env.int("BACKUP_INTERVAL_SECONDS", default=3600)
# Incremental backups (deltas) between full ones: the RPO on the default schedule.
BACKUP_INCREMENTAL_INTERVAL_SECONDS = env.int("BACKUP_INCREMENTAL_INTERVAL_SECONDS", default=300)
# A delta re-reads rows changed this long before its parent was taken (long transactions).
BACKUP_INCREMENTAL_OVERLAP_SECONDS = env.int("BACKUP_INCREMENTAL_OVERLAP_SECONDS", default=120)
BACKUP_RETAIN_HOURLY = env.int("BACKUP_RETAIN_HOURLY", default=24)
BACKUP_RETAIN_DAILY = env.int("BACKUP_RETAIN_DAILY", default=14)
BACKUP_RETAIN_WEEKLY = env.int("BACKUP_RETAIN_WEEKLY", default=8)
BACKUP_VERIFY_INTERVAL_SECONDS = env.int("BACKUP_VERIFY_INTERVAL_SECONDS", default=86400)
BACKUP_WORKERS = env.int("BACKUP_WORKERS", default=2)  # parallel part readers (PostgreSQL)
S3_BUCKET = env("S3_BUCKET", default="")
if S3_BUCKET:
    _s3_options = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": env("S3_ENDPOINT_URL", default=None),
        "access_key": env("S3_ACCESS_KEY_ID", default=None),
        "secret_key": env("S3_SECRET_ACCESS_KEY", default=None),
        "region_name": env("S3_REGION", default="us-east-1"),
        "addressing_style": env("S3_ADDRESSING_STYLE", default="path"),
        "file_overwrite": False,
    }
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**_s3_options, "location": "media"},
        },
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**_s3_options, "location": "backups"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
else:
    STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
        },
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(BACKUP_ROOT)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# --- cache, broker: Redis when REDIS_URL is set, no server otherwise ---------
REDIS_URL = env("REDIS_URL", default="")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="holdfast"),
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# Each app adds its periodic jobs here (see config/celery.py: beat_schedule()).
CELERY_BEAT_SCHEDULE: dict = {}

# --- shipping pipeline (deployments/) ---------------------------------------
SANDBOX_ROOT = env("SANDBOX_ROOT", default="")  # empty: the system temp dir
SANDBOX_TIMEOUT_SECONDS = env.int("SANDBOX_TIMEOUT_SECONDS", default=600)
SANDBOX_TRANSCRIPT_LIMIT = env.int("SANDBOX_TRANSCRIPT_LIMIT", default=64 * 1024)
# "bwrap" (default): every job runs in bubblewrap namespaces; a worker without it refuses
# jobs. "none": an explicit operator choice to run jobs as plain subprocesses.
SANDBOX_ISOLATION = env("SANDBOX_ISOLATION", default="bwrap")
SANDBOX_CPU_SECONDS = env.int("SANDBOX_CPU_SECONDS", default=0)  # 0: the job's timeout
SANDBOX_MEMORY_MB = env.int("SANDBOX_MEMORY_MB", default=2048)  # address space per process
SANDBOX_MAX_PROCESSES = env.int("SANDBOX_MAX_PROCESSES", default=128)
SANDBOX_MAX_FILE_MB = env.int("SANDBOX_MAX_FILE_MB", default=1024)
SANDBOX_TMP_MB = env.int("SANDBOX_TMP_MB", default=256)  # the job's private /tmp (tmpfs)
SANDBOX_UID = env.int("SANDBOX_UID", default=65534)  # bwrap runs as this user under root
# Hosts a remote clone may reach although they are private or loopback, or over plain http.
SANDBOX_CLONE_ALLOWED_HOSTS = env.list("SANDBOX_CLONE_ALLOWED_HOSTS", default=[])
APPROVAL_TTL_SECONDS = env.int("APPROVAL_TTL_SECONDS", default=24 * 3600)
GITHUB_TOKEN = env("GITHUB_TOKEN", default="")
GITHUB_API_URL = env("GITHUB_API_URL", default="https://api.github.com")
# Repository sync (docs/repo-sync.md): the key inbound push-hook secrets derive from, the
# author of Holdfast's commits, and the OpenAI-compatible endpoint of the LLM agent.
REPO_WEBHOOK_KEY = env("REPO_WEBHOOK_KEY", default="")
REPO_COMMIT_AUTHOR = env("REPO_COMMIT_AUTHOR", default="Holdfast <holdfast@localhost>")
AGENT_LLM_API_URL = env("AGENT_LLM_API_URL", default="")
AGENT_LLM_API_KEY = env("AGENT_LLM_API_KEY", default="")
# "local" (default): the built-in static host; "vercel": Vercel's API; "none": refuse.
DEPLOY_PROVIDER = env("DEPLOY_PROVIDER", default="local")
# Where deployment and preview URLs point (a separate origin for previews, e.g.
# https://previews.example.com); empty: SITE_URL.
PREVIEW_BASE_URL = env("PREVIEW_BASE_URL", default="")
DEPLOY_PROVIDER_TOKEN = env("DEPLOY_PROVIDER_TOKEN", default="")
DEPLOY_PROVIDER_API_URL = env("DEPLOY_PROVIDER_API_URL", default="https://api.vercel.com")

# --- knowledge (project files, vectors/) -------------------------------------
FILE_MAX_BYTES = env.int("FILE_MAX_BYTES", default=25 * 1024 * 1024)
# Unset: vectors.extract.EXTRACTION_VERSION. Bumping it re-ingests every file.
EXTRACTION_VERSION = env.int("EXTRACTION_VERSION", default=1)
EMBEDDINGS_URL = env("EMBEDDINGS_URL", default="")  # empty: the offline wordllama model
EMBEDDINGS_MODEL = env("EMBEDDINGS_MODEL", default="")
EMBEDDINGS_API_KEY = env("EMBEDDINGS_API_KEY", default="")
EMBEDDINGS_DIMENSION = env.int("EMBEDDINGS_DIMENSION", default=0)
VECTOR_BACKEND = env("VECTOR_BACKEND", default="")  # "exact" forces the exact scan
RECALL_ALERT = env.float("RECALL_ALERT", default=0.95)

# --- collaboration ----------------------------------------------------------
# Presence entries expire this long after a member's last heartbeat (seed 002: 60-120 s).
PRESENCE_TTL_SECONDS = env.int("PRESENCE_TTL_SECONDS", default=90)
if not 60 <= PRESENCE_TTL_SECONDS <= 120:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"PRESENCE_TTL_SECONDS must be between 60 and 120, not {PRESENCE_TTL_SECONDS}."
    )
PRESENCE_KEY_PREFIX = env("PRESENCE_KEY_PREFIX", default="holdfast:")
# Outbound webhooks (collaboration.webhooks): hosts that may be private/loopback addresses
# (and plain http), the per-attempt timeout, the retry backoff (seconds after attempt n),
# the old secret's signing overlap after a rotation, and the delivery log's retention.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# An attempt holds its delivery this long; after it, the sweep re-sends (worker died).
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)
WEBHOOK_RETRY_SCHEDULE = [
    int(s) for s in env.list("WEBHOOK_RETRY_SCHEDULE", default=["5", "30", "120", "600",
                                                               "1800", "3600", "10800"])
]  # fmt: skip
WEBHOOK_SECRET_OVERLAP_SECONDS = env.int("WEBHOOK_SECRET_OVERLAP_SECONDS", default=24 * 3600)
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)

# --- safety and social (seed 002; docs/safety.md) ---------------------------
# Risk-profile signal keys: comma-separated urlsafe-base64 32-byte AES keys, current first.
RISK_PROFILE_KEYS = env.list("RISK_PROFILE_KEYS", default=[])
GRAPH_PROJECTION_TTL_SECONDS = 300  # seed 002 §3: projections live 5 minutes
DISCOVERY_TTL_SECONDS = 300  # seed 002 §6: discovery results live 5 minutes
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=90)

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.DefaultPagination",
    # One JSON parser for every body: size (413), depth and storable strings (400).
    # JSON bodies only: form encoding turns "" into "absent" on a PATCH and cannot say
    # null, so one body could mean two things. The file upload adds multipart itself.
    "DEFAULT_PARSER_CLASSES": ["common.parsers.StrictJSONParser"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Scoped rates (views opt in with throttle_scope); counters live in the cache, not the DB.
    "DEFAULT_THROTTLE_RATES": {"kpi": env("KPI_RATE_LIMIT", default="1200/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Holdfast API",
    "DESCRIPTION": "Workspaces, projects, collaboration and shipping, with declared durability.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files ship with the app, so /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents its error responses with one Error schema (common.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "UserStatusEnum": "accounts.models.UserStatus",
        "EdgeTypeEnum": "accounts.models.EdgeType",
        "ModerationTypeEnum": "accounts.models.ModerationType",
        "RiskLevelEnum": "accounts.models.RiskLevel",
        "AgeLayerEnum": "accounts.models.AgeLayer",
        "ProjectStatusEnum": "workspaces.models.ProjectStatus",
        "RoleEnum": "accounts.models.Role",
        "InvitationStatusEnum": "accounts.models.InvitationStatus",
        "RunStatusEnum": "deployments.models.RunStatus",
        "StepStatusEnum": "deployments.models.StepStatus",
        "ApprovalStatusEnum": "deployments.models.ApprovalStatus",
        "SandboxJobStatusEnum": "deployments.models.SandboxJobStatus",
        "DeploymentStatusEnum": "deployments.models.DeploymentStatus",
        "InfraStatusEnum": "deployments.models.InfraStatus",
        "CreditKindEnum": "billing.models.CreditKind",
        "KpiKindEnum": "billing.models.KpiKind",
        "EntitlementSourceEnum": "billing.models.EntitlementSource",
    },
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = False
SIMPLE_HISTORY_HISTORY_ID_USE_UUID = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # one line per outbound request (webhook deliveries) is noise at INFO
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
