"""Django settings. Everything a deployment changes comes from ``STUDIO_*`` variables.

- ``STUDIO_WORKSPACE``: workspace folder (default ``./workspace``), the source of truth.
- ``STUDIO_REDIS_URL``: an external Redis; unset = the embedded one on a unix socket.
- ``DATABASE_URL``: ``postgres://…`` for PostgreSQL; unset = SQLite mirror in the workspace.
- ``STUDIO_ALLOWED_HOSTS``: extra host names (comma separated) besides loopback.
- ``STUDIO_DEBUG=1``: Django debug pages (never in production).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from studio.runtime.private_files import private_sqlite
from studio.runtime.secrets_store import secret_key
from studio.storage.paths import Workspace

BASE_DIR = Path(__file__).resolve().parent.parent
WORKSPACE = Workspace(Path(os.environ.get("STUDIO_WORKSPACE", BASE_DIR / "workspace")).resolve())
WORKSPACE.ensure()
os.environ.setdefault("TORCH_HOME", str(WORKSPACE.torch_home))

SECRET_KEY = os.environ.get("STUDIO_SECRET_KEY") or secret_key(WORKSPACE)
DEBUG = os.environ.get("STUDIO_DEBUG") == "1"
# Loopback only by default: a DNS-rebinding page cannot reach us under its own host name.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    h.strip() for h in os.environ.get("STUDIO_ALLOWED_HOSTS", "").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("STUDIO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "django_dramatiq",
    "apps.core",
    "apps.projects",
    "apps.splits",
    "apps.experiments",
    "apps.datasets",
    "apps.exports",
    "apps.evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.csp.ContentSecurityPolicyMiddleware",  # before WhiteNoise: static files get it too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.StudioLoginRequiredMiddleware",
    "apps.core.url_ids.UrlIdMiddleware",  # a URL id that is not an id: 404 before any view
    "apps.projects.middleware.ProjectAccessMiddleware",  # members only, after login
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = None

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
                "apps.core.context.studio_context",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlparse(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    name = os.environ.get("STUDIO_DB_PATH", str(WORKSPACE.root / "mirror.sqlite3"))
    private_sqlite(Path(name))  # it holds API tokens and sessions: 0600, before SQLite opens it
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        # Web + workers write concurrently: WAL, a busy timeout, and IMMEDIATE
        # transactions so writers queue instead of failing with "database is locked".
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": os.environ.get("STUDIO_TEST_DB_PATH") or None},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REDIS_URL = os.environ.get("STUDIO_REDIS_URL") or f"unix://{WORKSPACE.redis_socket()}"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "studio:asgi"},
    }
}
# Shared by every web process (login throttling counts failures here).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "studio:cache",
    }
}
DRAMATIQ_BROKER = {
    "BROKER": "apps.core.broker.StudioRedisBroker",
    "OPTIONS": {"url": REDIS_URL, "namespace": "studio"},
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "apps.core.worker_guard.WorkerGuard",  # dies with its parent, refuses a foreign Redis
        "apps.core.worker_boot.PreloadML",  # imports torch & co. at boot, not on the first job
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["jobs"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "not logged in" into a 401.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # Project members only, by role (apps/projects/access.py); after IsAuthenticated: 401 first.
        "apps.projects.permissions.ProjectRolePermission",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio API",
    "DESCRIPTION": "Self-hosted computer-vision training studio.",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the npm package (make vendor), never a CDN: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "/" + STATIC_URL.strip("/") + "/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/" + STATIC_URL.strip("/") + "/vendor/swagger-ui/favicon-32x32.png",
}

# How long a running job may go without a heartbeat before it is "interrupted".
STUDIO_JOB_LEASE_SECONDS = int(os.environ.get("STUDIO_JOB_LEASE_SECONDS", "45"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("STUDIO_LOG_LEVEL", "WARNING")},
    # Worker lifecycle ("booting up", "ready for action", shutdown) is worth seeing.
    "loggers": {
        "dramatiq": {"level": "INFO"},
        "apps.core.worker_boot": {"level": "INFO"},  # "ML stack preloaded in … s"
    },
}
