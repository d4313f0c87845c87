"""Fair share of the graders.

- One account holds at most one grading in flight (queued or running; the
  database enforces it), one client address at most
  settings.GRADING_IN_FLIGHT_PER_ADDRESS.
- A submission goes to the *low* lane when its account, or its address, used
  a heavy share of grading time recently (settings.GRADING_*_SHARE_SECONDS
  within GRADING_SHARE_WINDOW_SECONDS), when its address already has a
  grading in flight, or when the account is new
  (settings.GRADING_NEW_ACCOUNT_MINUTES): a burst of fresh accounts never
  reaches the normal lane. Low-lane submissions
  wait in the database (their outbox row stays unsent) and at most
  settings.GRADING_LOW_LANE_SLOTS of them are handed to the workers at a time,
  least-heavy account first; every other worker slot stays free for everyone
  else. So twenty accounts submitting the slowest code allowed hold one grader
  between them, and a learner with a normal share never queues behind them.
- Where configured (settings.SUBMIT_REQUIRES_VERIFIED_EMAIL), submitting needs
  a verified e-mail address.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from allauth.account.models import EmailAddress
from allauth.core.internal.httpkit import get_client_ip
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from exercises import dispatch
from exercises.models import GradingRequest, Submission

log = logging.getLogger(__name__)

NORMAL, LOW = "normal", "low"
# The most recent gradings read to add up a share: bounds the work per submission.
SHARE_ROWS = 200
# Parked low-lane submissions looked at when choosing the next one to release.
RELEASE_CANDIDATES = 50
_LOW_LANE_LOCK = 7_310_015  # a PostgreSQL advisory lock key: release decisions one at a time


def client_address(request) -> str | None:
    """The client's address as allauth's rate limits see it (X-Forwarded-For only behind trusted proxies)."""
    try:
        return get_client_ip(request)
    except Exception:
        return request.META.get("REMOTE_ADDR") or None


def needs_verified_email(user) -> bool:
    if not settings.SUBMIT_REQUIRES_VERIFIED_EMAIL:
        return False

    return not EmailAddress.objects.filter(user=user, verified=True).exists()


def in_flight_from(address: str | None) -> int:
    if not address:
        return 0
    return Submission.objects.in_flight().filter(client_address=address).count()


def _seconds_used(rows) -> float:
    now = timezone.now()
    total = 0.0
    for started, finished in rows:
        if started:
            total += max(0.0, ((finished or now) - started).total_seconds())
    return total


def recent_share(*, user=None, address: str | None = None) -> float:
    """Grading seconds spent on this account's (or address's) submissions within the share window."""
    since = timezone.now() - timedelta(seconds=settings.GRADING_SHARE_WINDOW_SECONDS)
    if user is not None:
        mine = Q(user=user)
    elif address:
        mine = Q(client_address=address)
    else:
        return 0.0
    rows = (
        Submission.objects.filter(mine)
        .filter(Q(finished_at__gte=since) | Q(status=Submission.RUNNING))
        .order_by("-created_at")
        .values_list("started_at", "finished_at")[:SHARE_ROWS]
    )
    return _seconds_used(rows)


def lane_for(user, address: str | None) -> str:
    new_for = settings.GRADING_NEW_ACCOUNT_MINUTES
    joined = getattr(user, "date_joined", None)
    if new_for and joined and joined > timezone.now() - timedelta(minutes=new_for):
        return LOW
    if address and in_flight_from(address):
        return LOW
    if recent_share(user=user) > settings.GRADING_ACCOUNT_SHARE_SECONDS:
        return LOW
    if address and recent_share(address=address) > settings.GRADING_ADDRESS_SHARE_SECONDS:
        return LOW
    return NORMAL


# -- the low lane ---------------------------------------------------------------------


def low_lane_in_use(exclude=None) -> int:
    """Low-lane submissions handed to the workers and not finished yet."""
    busy = Submission.objects.filter(
        lane=LOW, status__in=Submission.IN_FLIGHT, grading_request__dispatched_at__isnull=False
    )
    if exclude is not None:
        busy = busy.exclude(pk=exclude)
    return busy.count()


def lock_low_lane() -> None:
    """Serialise release decisions (inside a transaction) so the slots are never overbooked."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOW_LANE_LOCK])


def parked():
    return Submission.objects.filter(
        lane=LOW, status=Submission.QUEUED, grading_request__dispatched_at__isnull=True
    )


def next_parked() -> list[int]:
    """Grading request ids of parked low-lane submissions, the lightest account's oldest first."""
    candidates = list(
        parked()
        .order_by("created_at")
        .values_list("grading_request__pk", "user_id", "created_at")[:RELEASE_CANDIDATES]
    )
    shares: dict[int, float] = {}
    for _, user_id, _ in candidates:
        if user_id not in shares:
            shares[user_id] = recent_share(user=user_id)
    candidates.sort(key=lambda row: (shares[row[1]], row[2]))
    return [request_id for request_id, _, _ in candidates]


def relay_low(grading_request_id: int) -> bool:
    """Send a low-lane submission if a low-lane slot is free; otherwise it stays parked (unsent) until
    release_low_lane finds a slot. Returns whether it was sent."""
    with transaction.atomic():
        lock_low_lane()
        request = (
            GradingRequest.objects.filter(pk=grading_request_id)
            .select_related("submission")
            .first()
        )
        if request is None or request.submission.is_done:
            return False
        if low_lane_in_use(exclude=request.submission_id) >= settings.GRADING_LOW_LANE_SLOTS:
            log.info("submission %s waits in the low lane for a free slot", request.submission_id)
            return False
        if not current_app.conf.task_always_eager:
            # Take the slot and send in one transaction. Committing the slot first and sending after
            # left a gap: a worker killed in it held the slot with no message sent, and every
            # low-lane submission waited for the sweeper's EXERCISES_REDISPATCH_AFTER. Now a process
            # that dies before the commit leaves the slot free (a message it already sent is a
            # duplicate delivery, which the claim absorbs), one that dies after has sent it.
            return dispatch.send_grading(grading_request_id)
        # Eager: the task may run in this thread (inside this transaction, holding the lock), so
        # take the slot before sending, and send after the commit.
        GradingRequest.objects.filter(pk=request.pk).update(dispatched_at=timezone.now())
    return dispatch.send_grading(grading_request_id)


def release_low_lane() -> int:
    """Send parked low-lane submissions while slots are free (after each grading, and by the sweeper)."""
    released = 0
    free = settings.GRADING_LOW_LANE_SLOTS - low_lane_in_use()
    if free <= 0:
        return 0
    for request_id in next_parked():
        if released >= free or not relay_low(request_id):
            break
        released += 1
    return released
