"""Celery tasks: grade one submission (idempotent, acked late), replay one schedule, run the code in
the editor once, sweep stuck ones.

In the embedded mode (no broker, `task_always_eager`) a task sent with `.delay()`
never runs in the thread that sent it: `InBackground` hands it to a small,
bounded pool of background threads once the sending transaction has committed,
so a web request returns at once and its page polls for the result.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from celery import Task, current_app, shared_task
from celery.exceptions import MaxRetriesExceededError
from celery.result import AsyncResult
from celery.utils import uuid
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections

from exercises import fair_share, grading, replays, runs, sweeper

log = logging.getLogger(__name__)

# Tasks waiting for a background thread at most (beyond that, sending fails and the sweeper resends).
BACKGROUND_BACKLOG = 200
# The embedded mode has no beat: sweep from the background threads at most this often.
EMBEDDED_SWEEP_EVERY = 60.0


class BackgroundFull(RuntimeError):
    pass


class _Background:
    def __init__(self):
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(BACKGROUND_BACKLOG)

    def submit(self, task, args, kwargs, task_id) -> None:
        if not self._slots.acquire(blocking=False):
            raise BackgroundFull(f"{BACKGROUND_BACKLOG} background tasks are already waiting")
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(1, settings.GRADING_BACKGROUND_THREADS),
                    thread_name_prefix="saga-task",
                )
            pool = self._pool
        try:
            pool.submit(self._run, task, args, kwargs, task_id)
        except BaseException:
            self._slots.release()
            raise

    def _run(self, task, args, kwargs, task_id) -> None:
        try:
            task.apply(args, kwargs, task_id=task_id)
        except Exception:
            log.exception("background task %s failed", task.name)
        finally:
            self._slots.release()
            connections.close_all()  # this thread's connections only


background = _Background()
_last_sweep = [0.0]
_sweep_lock = threading.Lock()


def _runs_in_background() -> bool:
    return (
        current_app.conf.task_always_eager
        and not connection.in_atomic_block
        and settings.GRADING_BACKGROUND_THREADS > 0
    )


def maybe_sweep() -> bool:
    """Embedded mode only: sweep on a background thread if the last sweep is a minute old (a restarted
    development server leaves gradings its threads held; this takes them over)."""
    if not _runs_in_background():
        return False
    with _sweep_lock:
        if time.monotonic() - _last_sweep[0] < EMBEDDED_SWEEP_EVERY:
            return False
        _last_sweep[0] = time.monotonic()
    try:
        sweep_submissions.delay()
    except BackgroundFull:
        return False
    return True


class InBackground(Task):
    """Run eagerly (embedded mode) on the background pool, not in the caller's thread. Inside an open
    transaction the rows it needs are not visible to another connection yet, so it runs in place."""

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        if _runs_in_background():
            task_id = task_id or uuid()
            background.submit(self, args, kwargs, task_id)
            return AsyncResult(task_id, app=self.app)
        return super().apply_async(args, kwargs, task_id=task_id, **options)


# A delivery that meets the database restarting is retried with backoff, not acknowledged and dropped.
@shared_task(
    bind=True,
    base=InBackground,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=30,
)
def grade_submission(self, submission_id: str) -> str:
    outcome = grading.run_grading(submission_id)
    if outcome == "busy" and not self.request.is_eager:
        # Another delivery holds it (or held it and died): look again once that claim must have expired,
        # or sooner if the broker would hand the waiting retry out again before then (a retry waits
        # unacknowledged in a worker, and the visibility timeout would copy it).
        visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
        countdown = min(grading.running_deadline().total_seconds(), visibility / 2)
        try:
            raise self.retry(countdown=countdown)
        except MaxRetriesExceededError:
            log.warning(
                "submission %s still claimed elsewhere after %d retries; the sweeper has it",
                submission_id,
                self.max_retries,
            )
            return outcome
    # A grader is free again: let the next low-lane submission in.
    fair_share.release_low_lane()
    return outcome


@shared_task(base=InBackground, acks_late=True, reject_on_worker_lost=True)
def replay_schedule(replay_id: str) -> str:
    return replays.run_replay(replay_id)


# A run of the code in the editor (exercises/runs.py), on the short queue. Acknowledged on receipt, not
# late: a run is not a record; one lost with its worker is not redelivered (its panel says it was
# lost once overdue, and running again is cheap), so code that kills workers cannot come back.
@shared_task(base=InBackground, acks_late=False, reject_on_worker_lost=False)
def run_code(run_id: str) -> str:
    return runs.execute(run_id)


@shared_task(base=InBackground, acks_late=True)
def sweep_submissions() -> int:
    return len(sweeper.sweep())
