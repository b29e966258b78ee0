"""Django settings: the one place configuration is read (README, "Configuration").

Values come from the environment; in the `local` environment the launcher's `.tulip/local.env`
supplies what the environment does not, so `manage.py devtoken` in a second terminal finds the
running stack. Bad configuration stops the process with one line naming the variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

from tulip.config import ConfigError, load_config, local_env_path, read_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("TULIP_STATE_DIR", str(BASE_DIR / ".tulip")))


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    if env.get("TULIP_ENV", "local") == "local":
        for key, value in read_env_file(local_env_path(STATE_DIR, env)).items():
            env.setdefault(key, value)
    return env


try:
    TULIP = load_config(_environment())
except ConfigError as exc:  # one clear line, never a traceback
    print(str(exc), file=sys.stderr)
    raise SystemExit(2) from None

SECRET_KEY = TULIP.secret_key
DEBUG = TULIP.debug
ALLOWED_HOSTS = list(TULIP.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files (offline)
    "channels",
    "tulip",
    "orders",
    "matching",
    "realtime",
    "ops",
]
if TULIP.environment != "production":
    # The local stand-in's commands (devtoken, ensure_ops_admin); named here, never imported.
    INSTALLED_APPS.append("devstack")

MIDDLEWARE = [
    "tulip.middleware.CorrelationIdMiddleware",
    "tulip.middleware.RegionCorsMiddleware",
    "tulip.middleware.BodySizeLimitMiddleware",
    "tulip.middleware.JsonErrorMiddleware",
    "tulip.flags.InjectLatencyMiddleware",
    # Django's own, in subclasses that cost API requests no thread hops (tulip/django_middleware.py):
    "tulip.django_middleware.SecurityMiddleware",
    "tulip.django_middleware.SessionMiddleware",
    "tulip.django_middleware.CommonMiddleware",
    "tulip.django_middleware.CsrfViewMiddleware",
    "tulip.django_middleware.AuthenticationMiddleware",
    "tulip.django_middleware.MessageMiddleware",
    "tulip.django_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tulip.urls"
ASGI_APPLICATION = "tulip.asgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tulip" / "templates"],
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

if TULIP.database_url:
    DATABASES = {"default": dj_database_url.parse(TULIP.database_url, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("TULIP_SQLITE_PATH", str(STATE_DIR / "db.sqlite3")),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = STATE_DIR / "static"

# Load-test reports (`make load`, bench/load): django-storages' S3 backend on the reports bucket
# under load-reports/ (the prefix the deployed load task may write, deploy/stacks/pipeline.py).
# Locally AWS_ENDPOINT_URL points it at the moto server with the stand-in's dummy credentials;
# deployed it is the region's real bucket with the task role's credentials. No existence check
# before a write (file_overwrite): keys are unique per run and the role may only PutObject.
_REPORTS_OPTIONS: dict[str, object] = {
    "bucket_name": TULIP.reports_bucket, "region_name": TULIP.aws_region,
    "location": "load-reports", "file_overwrite": True, "default_acl": None,
}
if TULIP.aws_endpoint_url:
    from tulip.aws import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY

    _REPORTS_OPTIONS.update(endpoint_url=TULIP.aws_endpoint_url, addressing_style="path",
                            access_key=LOCAL_ACCESS_KEY_ID, secret_key=LOCAL_SECRET_ACCESS_KEY)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "reports": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _REPORTS_OPTIONS},
}

# Order bodies are a few hundred bytes; anything past this is refused with 413 before parsing.
API_MAX_BODY_BYTES = 16 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # admin forms; the API limit above is the stricter one

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tulip.auth.CognitoJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tulip.auth.IsTrader"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "tulip.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "TulipBroker API",
    "DESCRIPTION": "Order entry and matching simulator. Contract: docs/api.md in the repository.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs and /api/redoc load their JavaScript and CSS from this service (the pinned
    # drf-spectacular-sidecar package), never from a CDN: they work without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [TULIP.redis_url],
            "prefix": f"{TULIP.redis_key_prefix}:asgi",
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# Celery: the SQS transport for tasks; results in Redis so callers (and tests) can wait on them.
CELERY_TASK_DEFAULT_QUEUE = "tulip-tasks"
MATCHING_CONTROL_QUEUE = "matching-control"  # the matcher worker's own (control) queue
CELERY_BROKER_URL = "sqs://"
if TULIP.aws_endpoint_url:
    from urllib.parse import urlparse as _urlparse

    _endpoint = _urlparse(TULIP.aws_endpoint_url)
    CELERY_BROKER_URL = f"sqs://testing:testing@{_endpoint.hostname}:{_endpoint.port}/"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": TULIP.aws_region,
    "is_secure": not bool(TULIP.aws_endpoint_url),
    # Short long-polls: a warm shutdown waits for the poll in flight, and the matcher's restart
    # time is what crash tests measure.
    "wait_time_seconds": 1,
    "visibility_timeout": 60,
    "polling_interval": 0.5,
    "predefined_queues": {
        name: {"url": url}
        for name, url in ((CELERY_TASK_DEFAULT_QUEUE, TULIP.celery_queue_url),
                          (MATCHING_CONTROL_QUEUE, TULIP.matching_control_queue_url))
        if url
    },
}
CELERY_RESULT_BACKEND = TULIP.redis_url
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{TULIP.redis_key_prefix}:celery:"}
CELERY_BEAT_SCHEDULE = {
    "sweep-accepted-orders": {"task": "orders.sweep_accepted",
                              "schedule": TULIP.sweeper_interval_s},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(STATE_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "tulip.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": TULIP.log_level},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # PynamoDB announces at INFO, in every process, that it found no global settings file.
        "pynamodb": {"level": "WARNING"},
    },
}

if TULIP.environment == "production":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

if TULIP.environment == "test":
    # Django's advice for test runs: a fast hasher. Every test stack creates the demo staff user
    # in each region, and PBKDF2's 1,000,000 rounds cost 1.2 s of CPU there each time; the
    # slow hashers stay listed so any existing hash still verifies.
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ]
