"""Saga School settings, read from the environment.

Defaults give the embedded mode (SQLite, tasks in-process, console e-mail);
DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

from courseapp.env import database, envbool, envint, envlist, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG")
SECRET_KEY = secret_key(DEBUG)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "allauth",
    "allauth.account",
    "courseapp",
    "lessons",
    "quicktest",
    "exercises",
    "teach",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "courseapp.middleware.CorrelationIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "courseapp.middleware.ContentSecurityPolicyMiddleware",
]

# Django's database sessions, read without the ORM (courseapp/sessions.py).
SESSION_ENGINE = "courseapp.sessions"

ROOT_URLCONF = "courseapp.urls"
WSGI_APPLICATION = "courseapp.wsgi.application"

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
                "courseapp.context_processors.teach_link",
            ],
        },
    },
]

DATABASES = {"default": database(os.environ.get("DATABASE_URL"), BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Accounts: e-mail based, verification off in the embedded default.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "none")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    # A handful of accounts per address: enough for a family or a classroom's stragglers, far too few
    # to farm accounts that each hold a grading slot.
    "signup": os.environ.get("SIGNUP_RATE_LIMIT", "3/10m/ip,10/d/ip"),
    "reset_password": "20/m/ip,5/m/key",
}
# Behind N reverse proxies, the client is the Nth address from the right of X-Forwarded-For
# (used by the rate limits and the per-address grading share). 0: the TCP peer is the client.
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# Submitting code needs a verified e-mail address (default: when verification is mandatory).
SUBMIT_REQUIRES_VERIFIED_EMAIL = envbool(
    "SUBMIT_REQUIRES_VERIFIED_EMAIL", "1" if ACCOUNT_EMAIL_VERIFICATION == "mandatory" else "0"
)
LOGIN_REDIRECT_URL = "/dashboard/"
LOGIN_URL = "/accounts/login/"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Saga School <noreply@localhost>")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Serve straight from the static folders too, so tests and a fresh checkout need no collectstatic.
WHITENOISE_USE_FINDERS = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies: learner code is capped well below this in the form itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# Production hardening; switched off only in DEBUG.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG and envbool("SECURE_COOKIES", "1")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = not DEBUG and envbool("SECURE_SSL_REDIRECT", "1")
SECURE_HSTS_SECONDS = 0 if DEBUG else envint("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Rate limits and playground results live in the cache: share one (Redis) across
# web processes in production with CACHE_URL=redis://host:6379/1.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Celery: without a broker URL, tasks run in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 300)
# A grading request sent this long ago and still queued is sent again (a message the broker lost).
EXERCISES_REDISPATCH_AFTER = envint("EXERCISES_REDISPATCH_AFTER", 600)
CELERY_TASK_SOFT_TIME_LIMIT = max(1, CELERY_TASK_TIME_LIMIT - min(30, CELERY_TASK_TIME_LIMIT // 5))
# A task not acknowledged within this window is delivered again; it must exceed the time limit.
# Every worker looks for such tasks (a killed worker's) every 10 s: kombu's default scans only on
# every tenth 10 s tick, which added up to 100 s to the wait of a learner whose worker died.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 900),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below, so their lines carry the correlation id too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task modules beyond each app's tasks.py.
CELERY_IMPORTS = ["teach.tasks"]
# Gradings go to the default queue; short jobs (a replay of one schedule) to their own, so they never
# wait behind a full grading queue. A worker started without -Q consumes both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES: dict[str, dict] = {"celery": {}, "short": {}}
CELERY_TASK_ROUTES = {
    "exercises.tasks.replay_schedule": {"queue": "short"},
    "exercises.tasks.run_code": {"queue": "short"},
}
# `celery beat` sweeps stuck gradings every minute (exercises/sweeper.py).
CELERY_BEAT_SCHEDULE = {
    "exercises-sweep-submissions": {"task": "exercises.tasks.sweep_submissions", "schedule": 60.0},
}

# Fair share of the graders (exercises/fair_share.py).
GRADING_IN_FLIGHT_PER_ADDRESS = envint("GRADING_IN_FLIGHT_PER_ADDRESS", 3)
GRADING_SHARE_WINDOW_SECONDS = envint("GRADING_SHARE_WINDOW_SECONDS", 900)
GRADING_ACCOUNT_SHARE_SECONDS = envint("GRADING_ACCOUNT_SHARE_SECONDS", 15)
GRADING_ADDRESS_SHARE_SECONDS = envint("GRADING_ADDRESS_SHARE_SECONDS", 30)
GRADING_NEW_ACCOUNT_MINUTES = envint("GRADING_NEW_ACCOUNT_MINUTES", 30)
GRADING_LOW_LANE_SLOTS = envint("GRADING_LOW_LANE_SLOTS", 1)
# "Run" on an exercise page (exercises/runs.py), limited apart from submissions: allauth's rate syntax,
# where user is the account (or an anonymous visitor's session) and ip the client address.
RUN_RATE_LIMIT = os.environ.get("RUN_RATE_LIMIT", "10/m/user,30/m/ip")
RUN_IN_FLIGHT_PER_ADDRESS = envint("RUN_IN_FLIGHT_PER_ADDRESS", 4)
# Embedded mode (no broker): tasks run on this many background threads, never in the request.
GRADING_BACKGROUND_THREADS = envint("GRADING_BACKGROUND_THREADS", 2)

# The jail: refuse to grade without bubblewrap unless explicitly allowed.
SANDBOX_ALLOW_UNJAILED = envbool("SANDBOX_ALLOW_UNJAILED")
SANDBOX_RANDOM_SCHEDULES = envint("SANDBOX_RANDOM_SCHEDULES", 500)
# The seed of the grader's random schedules: fixed, so a verdict can be reproduced.
SANDBOX_SEED = envint("SANDBOX_SEED", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "courseapp.lib.correlation.CorrelationIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [cid=%(correlation_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["correlation"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
