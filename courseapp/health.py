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
    from courseapp.celery import app

    try:
        with app.connection_for_write() as conn:
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
