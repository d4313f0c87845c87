"""Celery tasks of the instructor area (validation of exercise versions)."""

from __future__ import annotations

import functools
import logging
import uuid

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from exercises.models import ExerciseVersion
from exercises.tasks import InBackground
from teach import authoring

log = logging.getLogger(__name__)


# InBackground: in the embedded mode validation runs on the background pool, never in the request.
@shared_task(base=InBackground, acks_late=True, reject_on_worker_lost=True)
def validate_exercise_version(version_id: int, token: str) -> str:
    # Idempotent by request token: a redelivery of a finished request changes nothing.
    return authoring.run_validation(version_id, token)


def request_validation(version: ExerciseVersion, user=None) -> str:
    """Mark the version queued and send the validation task after commit; returns the request token."""
    token = uuid.uuid4().hex
    state = {
        "status": "queued",
        "request": token,
        "content_hash": version.content_hash,
        "requested_at": timezone.now().isoformat(),
        "requested_by": getattr(user, "email", "") or "",
    }
    ExerciseVersion.objects.filter(pk=version.pk).update(validation=state, validated_at=None)
    transaction.on_commit(
        functools.partial(_send_validation, validate_exercise_version, version.pk, token)
    )
    return token


def _send_validation(task, version_id: int, token: str) -> None:
    try:
        task.delay(version_id, token)
    except Exception:
        # An unreachable broker must not leave the page polling a request nobody will run.
        log.exception("could not send the validation task for version %s", version_id)
        authoring.finish(
            version_id,
            token,
            {
                "request": token,
                "status": "failed",
                "checks": [],
                "error": "The validation task could not be "
                "queued (is the broker running?). Nothing was run; validate again later.",
            },
        )
