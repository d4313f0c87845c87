"""Replaying one counterexample schedule: on a worker (the short queue), never in a web request.

Like a grading: the request row and its sending are tied by `on_commit` (and the
sweeper re-sends a lost one), the task claims the row once by id, a delivery that
finds its claimant dead takes over, a replay whose deliveries kept killing the
worker is stopped after grading.MAX_CRASHED_DELIVERIES, and the result is written once.
"""

from __future__ import annotations

import functools
import logging
from typing import cast

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from courseapp.lib.correlation import correlation_id
from exercises import dispatch, grading
from exercises.models import Replay, Submission
from sandbox.report import Counterexample

log = logging.getLogger(__name__)


def request_replay(submission: Submission, cid: str = "") -> tuple[Replay, bool]:
    """The replay of this submission's counterexample: the one still in flight, or a new one."""
    in_flight = submission.replays.filter(status__in=Replay.IN_FLIGHT).first()
    if in_flight is not None:
        return in_flight, False
    with transaction.atomic():
        replay = Replay.objects.create(submission=submission, correlation_id=(cid or "")[:64])
        transaction.on_commit(functools.partial(dispatch.send_replay, replay.pk))
    log.info("replay %s of submission %s queued", replay.pk, submission.pk)
    return replay, True


def sweep_replays() -> int:
    now = timezone.now()
    lost = Replay.objects.filter(
        Q(
            status=Replay.QUEUED,
            dispatched_at__isnull=True,
            created_at__lt=now - grading.UNDISPATCHED_GRACE,
        )
        | Q(status=Replay.QUEUED, dispatched_at__lt=now - grading.redispatch_after())
        | Q(status=Replay.RUNNING, started_at__lt=now - grading.running_deadline())
    )
    count = 0
    for replay_id in lost.values_list("pk", flat=True)[:500]:
        log.warning("sweeper: replay %s is stuck; sending it again", replay_id)
        dispatch.send_replay(replay_id)
        count += 1
    return count


def _claim(replay_id) -> int:
    now = timezone.now()
    claimable = Q(status=Replay.QUEUED) | Q(
        status=Replay.RUNNING,
        started_at__lt=now - grading.running_deadline(),
        deliveries__lt=grading.MAX_CRASHED_DELIVERIES,
    )
    return (
        Replay.objects.filter(pk=replay_id)
        .filter(claimable)
        .update(
            status=Replay.RUNNING,
            deliveries=F("deliveries") + 1,
            started_at=now,
            claimed_by=grading.claimant(),
        )
    )


def _finish(replay: Replay, result: grading.Verdict, *, claimed_by: str) -> bool:
    return bool(
        Replay.objects.filter(pk=replay.pk, status=Replay.RUNNING, claimed_by=claimed_by).update(
            status=Replay.DONE, result=result, finished_at=timezone.now()
        )
    )


def run_replay(replay_id) -> str:
    """Replay one schedule, at most once. Returns what happened (for logs and tests)."""
    claimed = _claim(replay_id)
    replay = Replay.objects.select_related("submission__version").filter(pk=replay_id).first()
    if replay is None:
        return "missing"
    if not claimed and replay.status == Replay.RUNNING and grading.claim_lost(replay):
        if replay.deliveries >= grading.MAX_CRASHED_DELIVERIES:
            stopped = grading.error_result(
                f"Replaying this schedule crashed the grader {replay.deliveries} times; "
                "it was stopped."
            )
            log.error(
                "replay %s retired after %d crashed deliveries cid=%s",
                replay.pk,
                replay.deliveries,
                replay.correlation_id or "-",
            )
            return "retired" if _finish(replay, stopped, claimed_by=replay.claimed_by) else "done"
        claimed = Replay.objects.filter(
            pk=replay.pk,
            status=Replay.RUNNING,
            claimed_by=replay.claimed_by,
            started_at=replay.started_at,
        ).update(
            deliveries=F("deliveries") + 1, started_at=timezone.now(), claimed_by=grading.claimant()
        )
    if not claimed:
        return "done" if replay.status == Replay.DONE else "busy"
    submission = replay.submission
    cid = replay.correlation_id or submission.correlation_id or str(replay.pk)[:16]
    token = correlation_id.set(cid)
    try:
        log.info(
            "replaying submission %s's schedule (replay %s) cid=%s", submission.pk, replay.pk, cid
        )
        example = submission.counterexample
        try:
            if example is None:
                result = grading.error_result("This submission has no schedule to replay.")
            else:
                result = grading.grade_code(
                    submission.version, submission.code, schedule=cast(Counterexample, example)
                )
        except SoftTimeLimitExceeded:
            result = grading.error_result(
                f"The replay took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} "
                "seconds and was stopped."
            )
        except Exception:
            log.exception("replay %s crashed", replay.pk)
            result = grading.error_result(
                "The grader failed unexpectedly while replaying this schedule. This is "
                "our bug, not yours; try again in a moment."
            )
        written = _finish(replay, result, claimed_by=grading.claimant())
        return result.get("status", "error") if written else "done"
    finally:
        correlation_id.reset(token)
