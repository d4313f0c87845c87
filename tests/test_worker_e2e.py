"""End to end through a real Celery worker on Redis with PostgreSQL: the view
writes the submission and its outbox row, the relay sends the task, a worker
process grades it in the jail, and a second delivery changes nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from courseapp.lib.content import LoadReport
from exercises import grading, sweeper
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Submission
from tests.conftest import need
from tests.workers import database_url, wait_for

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 120


@pytest.fixture
def services(transactional_db):
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL is not set")
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    from courseapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False  # really send to the broker
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def pool():
    return ["--pool=solo"]


@pytest.fixture
def worker(services, pool):
    log = tempfile.NamedTemporaryFile("w+", prefix="celery-e2e-", suffix=".log", delete=False)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SANDBOX_RANDOM_SCHEDULES": "30",
        "SANDBOX_ALLOW_UNJAILED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "courseapp",
            "worker",
            *pool,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"e2e-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: " ready." in Path(log.name).read_text() or proc.poll() is not None, 60)
        if proc.poll() is not None:
            pytest.fail(f"the worker exited at start:\n{Path(log.name).read_text()[-3000:]}")
        yield proc, Path(log.name)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
        os.unlink(log.name)


def _graded(submission_id) -> Submission:
    done = wait_for(lambda: Submission.objects.get(pk=submission_id).is_done, WAIT_SECONDS)
    submission = Submission.objects.get(pk=submission_id)
    assert done, f"no verdict after {WAIT_SECONDS} s: {submission.status}"
    return submission


def test_a_real_worker_grades_a_submission_exactly_once(worker, client, alice):
    proc, log = worker
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    client.force_login(alice)
    response = client.post(
        "/exercises/idempotent-consumer/submit/",
        {"code": exercise.published_version.starter, "client_token": "e2e-1"},
    )
    assert response.status_code == 302
    submission = _graded(Submission.objects.get(client_token="e2e-1").pk)
    assert submission.status == "failed" and submission.deliveries == 1
    assert submission.result["violations"][0]["name"] == "confirmed_once"
    assert submission.result["jailed"] is True
    assert GradingRequest.objects.get(submission=submission).dispatch_count == 1

    # A second delivery of the same task: acknowledged, nothing changes.
    from exercises.tasks import grade_submission

    grade_submission.delay(str(submission.pk))
    assert wait_for(lambda: log.read_text().count("succeeded in") >= 2, 60), log.read_text()[-3000:]
    again = Submission.objects.get(pk=submission.pk)
    assert (again.status, again.result, again.deliveries, again.finished_at) == (
        submission.status,
        submission.result,
        1,
        submission.finished_at,
    )


def test_the_sweeper_recovers_a_submission_whose_worker_died(worker, alice):
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    long_ago = timezone.now() - grading.running_deadline() - timedelta(minutes=1)
    # As a worker killed mid-grade leaves it: claimed, running, never finished.
    submission = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code=exercise.published_version.solution,
        client_token="died",
        status="running",
        started_at=long_ago,
        deliveries=1,
    )
    GradingRequest.objects.create(submission=submission, dispatched_at=long_ago, dispatch_count=1)
    assert [s.pk for s in sweeper.sweep()] == [submission.pk]
    submission = _graded(submission.pk)
    assert submission.status == "passed" and submission.deliveries == 2


# The module is loaded afresh for every call, so a short pause at load time slows every call: the
# grading takes seconds, long enough to be killed mid-grade.
SLOW_PREFIX = "import time\ntime.sleep(0.05)\n"


@pytest.mark.parametrize("pool", [["--pool=prefork", "--concurrency=1"]])
def test_killing_the_worker_process_mid_grade_still_grades_exactly_once(worker, client, alice):
    proc, log = worker
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    client.force_login(alice)
    client.post(
        "/exercises/idempotent-consumer/submit/",
        {"code": SLOW_PREFIX + exercise.published_version.solution, "client_token": "kill-me"},
    )
    submission = Submission.objects.get(client_token="kill-me")
    assert wait_for(lambda: Submission.objects.get(pk=submission.pk).status == "running", 60)
    child = _only_child(proc.pid)
    os.kill(child, signal.SIGKILL)  # the pool process grading it dies, unacknowledged

    submission = _graded(submission.pk)
    assert submission.status == "passed", submission.result["message"]
    assert submission.deliveries == 2
    assert "WorkerLostError" in log.read_text() or "signal 9" in log.read_text()


def _only_child(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])
