"""Fault test of the grading pipeline: 40 submissions, the worker SIGKILLed at
random moments four times and restarted; every submission must end with
exactly one verdict. Real PostgreSQL, Redis, worker processes and jail.

CI-sized: a kill costs little when the killed grading was claimed (the sweeper
sees its process is gone and relays it at once), and at most the visibility
timeout plus kombu's 10 s restore sweep when the killed worker had received a
task it had not claimed yet; more submissions only lengthen the run between
kills. The long run is the worker drill of `python -m bench.faults` (100
submissions through the site)."""

from __future__ import annotations

import collections
import os
import random
import re
import shutil
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from courseapp.lib.content import LoadReport
from exercises import grading, sweeper
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission
from tests.conftest import need
from tests.workers import Worker, database_url, wait_for

pytestmark = pytest.mark.services

SUBMISSIONS = 40
KILLS = 4
# The accounts are new, so every submission goes through the low lane; two slots keep both of the
# worker's processes busy (one slot made the 40 gradings one at a time).
LOW_LANE_SLOTS = 2
WORKER_ENV = {
    "SANDBOX_RANDOM_SCHEDULES": "10",  # the test is about the pipeline, not the exploration
    "CELERY_TASK_TIME_LIMIT": "15",
    "CELERY_VISIBILITY_TIMEOUT": "20",  # unacknowledged tasks of a killed worker come back after this
    "GRADING_LOW_LANE_SLOTS": str(LOW_LANE_SLOTS),
}
# Beat sweeps every minute; the test, whose waits are shorter, every few seconds.
SWEEP_EVERY = 3.0


@pytest.fixture
def live_pipeline(transactional_db, settings):
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL is not set")
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    from courseapp.celery import app

    settings.GRADING_LOW_LANE_SLOTS = LOW_LANE_SLOTS
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = before


def test_killing_the_worker_repeatedly_still_gives_every_submission_exactly_one_verdict(
    live_pipeline,
):
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    version = exercise.published_version
    users = get_user_model().objects.bulk_create(
        [
            get_user_model()(username=f"fault{n}", email=f"fault{n}@example.com")
            for n in range(SUBMISSIONS)
        ]
    )
    expected = {}
    for n, user in enumerate(users):
        code, outcome = (version.solution, "passed") if n % 2 == 0 else (version.starter, "failed")
        submission, created = grading.submit(user, exercise, code, uuid.uuid4().hex)
        assert created
        expected[submission.pk] = outcome

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SANDBOX_ALLOW_UNJAILED": "0",
        "PYTHONUNBUFFERED": "1",
        **WORKER_ENV,
    }
    worker = Worker(["--pool=prefork", "--concurrency=2", "--prefetch-multiplier=1"], env)
    swept = [time.monotonic()]

    def sweeping(condition):
        """The condition, checked while the sweeper runs every SWEEP_EVERY seconds as beat would."""

        def check():
            if time.monotonic() - swept[0] >= SWEEP_EVERY:
                swept[0] = time.monotonic()
                sweeper.sweep()
            return condition()

        return check

    rng = random.Random(20261125)
    kills = 0
    try:
        worker.start()
        # Kill by progress, not by the clock, so a fast machine cannot finish first:
        # once each threshold of verdicts is passed, after a random extra moment.
        for threshold in sorted(rng.sample(range(5, SUBMISSIONS - 10), KILLS)):
            wait_for(
                sweeping(
                    lambda threshold=threshold: (
                        Submission.objects.exclude(status__in=Submission.IN_FLIGHT).count()
                        >= threshold
                    )
                ),
                120,
                0.05,
            )
            time.sleep(rng.uniform(0, 0.3))
            if not Submission.objects.filter(status__in=Submission.IN_FLIGHT).exists():
                break
            worker.kill()
            kills += 1
            sweeper.sweep()  # as beat would: re-relay anything stuck
            worker.start()
        done = wait_for(
            sweeping(
                lambda: not Submission.objects.filter(status__in=Submission.IN_FLIGHT).exists()
            ),
            300,
            0.2,
        )
        log = worker.log()
    finally:
        worker.close()

    final = dict(Submission.objects.values_list("pk", "status"))
    counts = collections.Counter(final.values())
    deliveries = collections.Counter(Submission.objects.values_list("deliveries", flat=True))
    written = collections.Counter(
        m.group(1)
        for m in re.finditer(
            r"submission ([0-9a-f-]{36}): (?:passed|failed|error)(?! \(already graded\))", log
        )
    )
    print(
        f"\nfault test: {SUBMISSIONS} submissions, {kills} SIGKILLs of the worker; final statuses "
        f"{dict(counts)}; deliveries per submission {dict(sorted(deliveries.items()))}; "
        f"verdicts written per submission (from worker logs) {dict(collections.Counter(written.values()))}"
    )
    assert done, f"still in flight: {counts}"
    assert kills >= 2, "the workload finished before the worker could be killed twice"
    assert {str(pk): status for pk, status in final.items()} == {
        str(pk): out for pk, out in expected.items()
    }
    assert all(n <= 1 for n in written.values()), "a submission received two verdicts"
    assert Submission.objects.filter(finished_at__isnull=True).count() == 0
