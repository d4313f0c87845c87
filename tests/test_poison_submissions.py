"""Poison submissions: a submission whose gradings kill the grader is stopped
after grading.MAX_CRASHED_DELIVERIES deliveries, ends as an error that says so,
is logged with its correlation id, counted on /health/ and in the instructor
analytics, and is never delivered again. The live test kills the real worker's
pool process at every delivery (real PostgreSQL, Redis, Celery and jail)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from courseapp.lib.content import LoadReport
from exercises import grading, sweeper
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Submission
from exercises.tasks import grade_submission
from teach import authoring
from tests.conftest import need
from tests.workers import celery_worker, wait_for


@pytest.fixture
def exercise(db, settings):
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def _crashed(user, exercise, deliveries: int, **fields) -> Submission:
    """A submission whose last delivery died mid-grading on this host."""
    fields.setdefault("started_at", timezone.now())
    fields.setdefault("claimed_by", f"{socket.gethostname()}:{_dead_pid()}")
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=exercise.published_version.starter,
        client_token=uuid.uuid4().hex,
        status="running",
        deliveries=deliveries,
        correlation_id="cid-poison-7",
        **fields,
    )
    GradingRequest.objects.create(
        submission=submission, dispatched_at=timezone.now(), dispatch_count=1
    )
    return submission


def _never_grade(monkeypatch):
    monkeypatch.setattr(
        grading, "grade_code", lambda *a, **k: pytest.fail("a retired submission was graded")
    )


def test_after_three_crashed_deliveries_the_next_one_retires_it_with_a_message_that_says_so(
    alice, exercise, monkeypatch, caplog
):
    _never_grade(monkeypatch)
    submission = _crashed(alice, exercise, deliveries=grading.MAX_CRASHED_DELIVERIES)
    with caplog.at_level(logging.ERROR, logger="exercises.grading"):
        assert grading.run_grading(submission.pk) == "retired"
    submission.refresh_from_db()
    assert submission.status == "error" and submission.retired and submission.finished_at
    assert (
        "grading this submission crashed the grader 3 times; it was stopped"
        in submission.result["message"]
    )
    assert submission.deliveries == 3
    assert any(
        "retired" in r.getMessage() and "cid-poison-7" in r.getMessage() for r in caplog.records
    )


def test_a_retired_submission_is_never_delivered_again(alice, exercise, monkeypatch):
    _never_grade(monkeypatch)
    submission = _crashed(alice, exercise, deliveries=3)
    assert grading.run_grading(submission.pk) == "retired"
    for _ in range(3):
        assert grading.run_grading(submission.pk) == "done"
    Submission.objects.filter(pk=submission.pk).update(
        started_at=timezone.now() - timedelta(days=1)
    )
    assert submission.pk not in {s.pk for s in sweeper.sweep()}
    submission.refresh_from_db()
    assert submission.deliveries == 3 and submission.status == "error"


def test_fewer_crashed_deliveries_are_taken_over_and_graded(alice, exercise):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    need(grading.jail_status()[0], "the jail cannot be built here")
    submission = _crashed(alice, exercise, deliveries=grading.MAX_CRASHED_DELIVERIES - 1)
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    assert submission.status == "failed" and not submission.retired and submission.deliveries == 3


def test_an_overdue_claim_on_another_host_counts_as_a_crash_too(alice, exercise, monkeypatch):
    _never_grade(monkeypatch)
    long_ago = timezone.now() - grading.running_deadline() - timedelta(seconds=5)
    submission = _crashed(
        alice, exercise, deliveries=3, started_at=long_ago, claimed_by="other-host:12"
    )
    assert grading.run_grading(submission.pk) == "retired"
    assert Submission.objects.get(pk=submission.pk).retired


def test_a_live_claim_is_never_retired(alice, exercise, monkeypatch):
    _never_grade(monkeypatch)
    submission = _crashed(
        alice, exercise, deliveries=3, claimed_by=f"{socket.gethostname()}:{os.getppid()}"
    )
    assert grading.run_grading(submission.pk) == "busy"
    assert Submission.objects.get(pk=submission.pk).status == "running"


def test_the_sweeper_retires_an_overdue_poison_submission_instead_of_relaying_it(
    alice, exercise, monkeypatch
):
    sent = []
    monkeypatch.setattr(grade_submission, "delay", sent.append)
    long_ago = timezone.now() - grading.running_deadline() - timedelta(seconds=5)
    poison = _crashed(
        alice, exercise, deliveries=3, started_at=long_ago, claimed_by="other-host:12"
    )
    call_command("sweep_submissions", verbosity=0)
    assert sent == []
    poison.refresh_from_db()
    assert poison.status == "error" and poison.retired


def test_the_sweeper_retires_a_poison_submission_whose_worker_died_here_without_waiting(
    alice, exercise, monkeypatch
):
    sent = []
    monkeypatch.setattr(grade_submission, "delay", sent.append)
    poison = _crashed(alice, exercise, deliveries=3)
    crashed_once = _crashed(
        alice.__class__.objects.create_user("eve", "eve@example.com"), exercise, deliveries=1
    )
    sweeper.sweep()
    poison.refresh_from_db()
    assert poison.retired and poison.status == "error"
    assert sent == [str(crashed_once.pk)]


def test_the_sweeper_gives_up_on_a_submission_no_grader_ever_picks_up(alice, exercise, monkeypatch):
    monkeypatch.setattr(grade_submission, "delay", lambda *a: None)
    lost = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="lost",
        created_at=timezone.now() - timedelta(hours=5),
    )
    GradingRequest.objects.create(
        submission=lost,
        dispatched_at=timezone.now() - timedelta(hours=1),
        dispatch_count=grading.MAX_DISPATCHES,
    )
    sweeper.sweep()
    lost.refresh_from_db()
    assert lost.status == "error" and "no grader picked it up" in lost.result["message"]


def test_health_counts_retired_submissions(client, alice, exercise, monkeypatch):
    _never_grade(monkeypatch)
    grading.run_grading(_crashed(alice, exercise, deliveries=3).pk)
    body = client.get("/health/").json()
    assert body["retired_submissions"]["detail"].startswith("1 in the last 24 h")


def test_instructor_analytics_show_retired_submissions_with_their_correlation_id(
    client, alice, bob, exercise, monkeypatch
):
    _never_grade(monkeypatch)
    grading.run_grading(_crashed(alice, exercise, deliveries=3).pk)
    authoring.make_instructor(bob)
    client.force_login(bob)
    html = client.get("/teach/exercises/idempotent-consumer/stats/").content.decode()
    assert '<dd data-stat="retired">1</dd>' in html
    assert "cid-poison-7" in html and "alice@example.com" in html


# -- through a real worker, killed at every delivery ------------------------------------------

# Slow enough to be caught mid-grading: every fresh load of the module sleeps.
SLOW = "import time\ntime.sleep(2)\n\n\ndef on_payment_captured(event, ctx):\n    pass\n"


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


@pytest.mark.services
def test_a_submission_that_kills_the_worker_at_every_delivery_is_retired_and_grading_goes_on(
    live_pipeline, django_user_model
):
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    mallory = django_user_model.objects.create_user("mallory", "mallory@example.com")
    poison, _ = grading.submit(mallory, exercise, SLOW, "poison", cid="cid-poison-live")
    killed = []
    with celery_worker(
        "--pool=prefork",
        "--concurrency=1",
        "--prefetch-multiplier=1",
        SANDBOX_RANDOM_SCHEDULES="10",  # only the honest submission explores: it just has to pass
        CELERY_TASK_TIME_LIMIT="120",
    ) as worker:
        for delivery in range(1, grading.MAX_CRASHED_DELIVERIES + 1):
            caught = wait_for(
                lambda delivery=delivery: Submission.objects.filter(
                    pk=poison.pk, status="running", deliveries=delivery
                ).exists(),
                90,
                0.05,
            )
            assert caught, f"delivery {delivery} never started:\n{worker.log()[-3000:]}"
            claimant = Submission.objects.get(pk=poison.pk).claimed_by
            os.kill(int(claimant.rpartition(":")[2]), signal.SIGKILL)  # as the OOM killer would
            killed.append(claimant)
        assert wait_for(lambda: Submission.objects.get(pk=poison.pk).status == "error", 90), (
            worker.log()[-3000:]
        )
        poison.refresh_from_db()
        assert poison.retired and poison.deliveries == grading.MAX_CRASHED_DELIVERIES
        assert "crashed the grader 3 times; it was stopped" in poison.result["message"]
        assert "cid=cid-poison-live" in worker.log() and "retired" in worker.log()

        # The grader is free again: an honest learner's submission is graded.
        alice = django_user_model.objects.create_user("honest", "honest@example.com")
        honest, _ = grading.submit(alice, exercise, exercise.published_version.solution, "honest")
        assert wait_for(lambda: Submission.objects.get(pk=honest.pk).is_done, 120), worker.log()[
            -3000:
        ]
        assert Submission.objects.get(pk=honest.pk).status == "passed"
    assert len(set(killed)) == grading.MAX_CRASHED_DELIVERIES
    assert Submission.objects.get(pk=poison.pk).deliveries == grading.MAX_CRASHED_DELIVERIES
