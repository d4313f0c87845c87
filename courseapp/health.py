"""What /health/ checks: each probe returns (ok, detail)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from courseapp.celery import app
from exercises.fair_share import parked
from exercises.models import Submission
from sandbox.jail import jail_available


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
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "reachable"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def jail() -> tuple[bool, str]:
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
    try:
        replies = app.control.ping(timeout=0.5) or []
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]
    return bool(replies), f"{len(replies)} worker(s) answered"


def queue_depth() -> tuple[bool, str]:
    """Messages waiting in every task queue (gradings and short jobs such as replays)."""
    if not settings.CELERY_BROKER_URL:
        return True, "0"
    names = list(settings.CELERY_TASK_QUEUES)
    total = 0
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            for name in names:
                try:
                    with conn.channel() as channel:
                        _, depth, _ = channel.queue_declare(name, passive=True)
                except Exception as exc:
                    # A queue that was never declared is simply empty.
                    if "NOT_FOUND" in str(exc) or "404" in str(exc):
                        continue
                    raise
                total += depth
        return True, str(total)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def low_lane() -> tuple[bool, str]:
    """Submissions of a heavy recent share waiting for a low-priority slot (exercises/fair_share.py)."""
    try:
        return True, f"{parked().count()} waiting"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def retired_submissions() -> tuple[bool, str]:
    """Poison submissions: stopped after their gradings crashed the grader repeatedly. Informational:
    each was logged with its correlation id; a rising count means someone is attacking the graders
    (or the grader has a bug)."""
    try:
        retired = Submission.objects.filter(retired=True)
        recent = retired.filter(finished_at__gte=timezone.now() - timedelta(hours=24)).count()
        return True, f"{recent} in the last 24 h, {retired.count()} in all"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]
