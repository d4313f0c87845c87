"""Celery tasks: grade one submission (idempotent, acked late), sweep stuck ones."""
from __future__ import annotations

from celery import current_app, shared_task

from exercises import grading

# Let `celery beat` sweep every minute without touching the project settings.
current_app.conf.beat_schedule = {
    "exercises-sweep-submissions": {"task": "exercises.tasks.sweep_submissions", "schedule": 60.0},
    **(current_app.conf.beat_schedule or {}),
}


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def grade_submission(self, submission_id: str) -> str:
    outcome = grading.run_grading(submission_id)
    if outcome == "busy" and not self.request.is_eager:
        # Another delivery holds it (or held it and died): look again once that claim must have expired.
        raise self.retry(countdown=grading.running_deadline().total_seconds())
    return outcome


@shared_task(acks_late=True)
def sweep_submissions() -> int:
    return len(grading.sweep())
