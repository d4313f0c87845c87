"""Celery tasks of the instructor area (validation of exercise versions)."""

from __future__ import annotations

from celery import shared_task

from exercises import authoring
from exercises.tasks import InBackground


# InBackground: in the embedded mode validation runs on the background pool, never in the request.
@shared_task(base=InBackground, acks_late=True, reject_on_worker_lost=True)
def validate_exercise_version(version_id: int, token: str) -> str:
    # Idempotent by request token: a redelivery of a finished request changes nothing.
    return authoring.run_validation(version_id, token)
