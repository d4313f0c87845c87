"""What /health/ checks: each probe returns (ok, detail)."""
from __future__ import annotations

from django.conf import settings
from django.db import connection


def database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connection.vendor
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def broker() -> tuple[bool, str]:
    if not settings.CELERY_BROKER_URL:
        return True, "in-process"
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "reachable"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def jail() -> tuple[bool, str]:
    try:
        from sandbox.jail import jail_available
    except ImportError:
        return False, "the jail is not installed"
    ok, reason = jail_available()
    if ok:
        return True, "bubblewrap"
    if settings.SANDBOX_ALLOW_UNJAILED:
        # The development fallback grades without isolation; say so, but it is allowed.
        return True, f"UNJAILED development fallback ({reason})"
    return False, reason


def workers() -> tuple[bool, str]:
    if not settings.CELERY_BROKER_URL:
        return True, "in-process"
    from courseapp.celery import app

    try:
        replies = app.control.ping(timeout=0.5) or []
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]
    return bool(replies), f"{len(replies)} worker(s) answered"


def queue_depth() -> tuple[bool, str]:
    if not settings.CELERY_BROKER_URL:
        return True, "0"
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            with conn.channel() as channel:
                _, depth, _ = channel.queue_declare("celery", passive=True)
        return True, str(depth)
    except Exception as exc:
        # A queue that was never declared is simply empty.
        if "NOT_FOUND" in str(exc) or "404" in str(exc):
            return True, "0"
        return False, f"{type(exc).__name__}: {exc}"[:200]
