"""Sending the grading and replay tasks once their rows are committed: the relay of our outbox.

The tasks are looked up by name in Celery's registry rather than imported: the task bodies call into
grading and replays, which send them, so an import would go in a circle. ``exercises.apps`` imports
``exercises.tasks`` at start-up, so the names are always registered.
"""

from __future__ import annotations

import logging

from celery import current_app
from celery.app.task import Task
from django.db.models import F
from django.utils import timezone

from exercises.models import GradingRequest, Replay

log = logging.getLogger(__name__)

GRADE_TASK = "exercises.tasks.grade_submission"
REPLAY_TASK = "exercises.tasks.replay_schedule"


def _task(name: str) -> Task:
    return current_app.tasks[name]


def send_grading(grading_request_id: int) -> bool:
    """Send the grading task for one request; the sweeper retries whatever fails here."""
    grading = GradingRequest.objects.filter(pk=grading_request_id).first()
    if grading is None:
        return False
    GradingRequest.objects.filter(pk=grading.pk).update(
        dispatched_at=timezone.now(), dispatch_count=F("dispatch_count") + 1
    )
    try:
        _task(GRADE_TASK).delay(str(grading.submission_id))
    except Exception:
        # Leave it to the sweeper: clear dispatched_at so it is picked up at once.
        log.exception("could not send grading task for submission %s", grading.submission_id)
        GradingRequest.objects.filter(pk=grading.pk).update(dispatched_at=None)
        return False
    return True


def send_replay(replay_id) -> bool:
    Replay.objects.filter(pk=replay_id).update(dispatched_at=timezone.now())
    try:
        _task(REPLAY_TASK).delay(str(replay_id))
    except Exception:
        log.exception("could not send replay %s; the sweeper will", replay_id)
        Replay.objects.filter(pk=replay_id).update(dispatched_at=None)
        return False
    return True
