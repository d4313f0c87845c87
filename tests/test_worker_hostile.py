"""The hostile-submission suite through a live worker: real Redis, PostgreSQL,
a prefork Celery worker and the jail. Nothing passes, the worker survives
every case, and a normal submission afterwards grades normally."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, ExerciseVersion, Submission
from tests.conftest import need
from tests.test_submission_hostile import HOSTILE
from tests.workers import celery_worker, wait_for

pytestmark = pytest.mark.services


@pytest.fixture
def live_pipeline(transactional_db):
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL is not set")
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    from courseapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = before


def test_hostile_submissions_through_a_live_worker_never_pass(live_pipeline):
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    ExerciseVersion.objects.filter(pk=exercise.published_version_id).update(
        limits={"wall_seconds": 3, "cpu_seconds": 2, "memory_mb": 128, "output_bytes": 4096}
    )
    exercise.refresh_from_db()
    users = get_user_model().objects.bulk_create(
        [
            get_user_model()(username=f"hostile{n}", email=f"hostile{n}@example.com")
            for n in range(len(HOSTILE) + 1)
        ]
    )
    with celery_worker(
        "--pool=prefork", "--concurrency=2", SANDBOX_RANDOM_SCHEDULES="10"
    ) as worker:
        hostile = {
            name: grading.submit(user, exercise, code, uuid.uuid4().hex)[0]
            for (name, code), user in zip(HOSTILE.items(), users)
        }
        assert wait_for(
            lambda: not Submission.objects.filter(status__in=Submission.IN_FLIGHT).exists(), 240, 1
        ), worker.log()[-3000:]
        normal, _ = grading.submit(
            users[-1], exercise, exercise.published_version.solution, uuid.uuid4().hex
        )
        assert wait_for(lambda: Submission.objects.get(pk=normal.pk).is_done, 120, 0.5), (
            worker.log()[-3000:]
        )
        assert worker.proc.poll() is None, "a hostile submission took the worker down"
    outcomes = {name: Submission.objects.get(pk=s.pk).status for name, s in hostile.items()}
    print("\nhostile submissions through a live worker:", outcomes)
    assert all(status in ("failed", "error") for status in outcomes.values()), outcomes
    assert Submission.objects.get(pk=normal.pk).status == "passed"
