"""The grading task: idempotent by submission id, verdict written once,
jail refused loudly, stuck submissions swept."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from courseapp.lib.content import LoadReport
from exercises import dispatch, grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Submission
from exercises.tasks import grade_submission, sweep_submissions
from tests.conftest import need


@pytest.fixture
def exercise(db, settings):
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


@pytest.fixture
def jail():
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")


@pytest.fixture
def eager():
    from courseapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def _submission(user, exercise, code=None, **fields) -> Submission:
    code = exercise.published_version.starter if code is None else code
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=fields.pop("client_token", "tok"),
        **fields,
    )
    GradingRequest.objects.create(submission=submission)
    return submission


def test_it_grades_a_queued_submission_once(alice, exercise, jail):
    submission = _submission(alice, exercise)
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.deliveries == 1
    assert submission.result["violations"][0]["name"] == "confirmed_once"
    assert submission.result["jailed"] is True and submission.finished_at


def test_a_second_delivery_changes_nothing(alice, exercise, jail, eager):
    submission = _submission(alice, exercise)
    assert grade_submission.delay(str(submission.pk)).get() == "failed"
    submission.refresh_from_db()
    first = (submission.status, submission.result, submission.finished_at)
    assert grade_submission.delay(str(submission.pk)).get() == "done"
    submission.refresh_from_db()
    assert (submission.status, submission.result, submission.finished_at) == first
    assert submission.deliveries == 1


def test_a_submission_running_elsewhere_is_left_alone(alice, exercise, monkeypatch):
    submission = _submission(
        alice, exercise, status="running", started_at=timezone.now(), deliveries=1
    )
    monkeypatch.setattr(grading, "grade_code", lambda *a, **k: pytest.fail("graded twice"))
    assert grading.run_grading(submission.pk) == "busy"
    submission.refresh_from_db()
    assert submission.status == "running" and submission.deliveries == 1


def test_a_stale_running_submission_is_claimed_again_and_deliveries_counted(alice, exercise, jail):
    long_ago = timezone.now() - grading.running_deadline() - timedelta(seconds=5)
    submission = _submission(alice, exercise, status="running", started_at=long_ago, deliveries=1)
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.deliveries == 2


def test_a_delivery_takes_over_from_a_claimant_that_died_on_this_host(alice, exercise, jail):
    dead = subprocess.Popen(["true"])
    dead.wait()
    submission = _submission(
        alice,
        exercise,
        status="running",
        started_at=timezone.now(),
        deliveries=1,
        claimed_by=f"{socket.gethostname()}:{dead.pid}",
    )
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.deliveries == 2
    assert submission.claimed_by == grading.claimant()


@pytest.mark.parametrize("holder", ["alive", "elsewhere"])
def test_a_claim_held_by_a_live_or_remote_process_is_respected(
    alice, exercise, holder, monkeypatch
):
    claimed_by = f"{socket.gethostname()}:{os.getppid()}" if holder == "alive" else "other-host:1"
    submission = _submission(
        alice,
        exercise,
        status="running",
        started_at=timezone.now(),
        deliveries=1,
        claimed_by=claimed_by,
    )
    monkeypatch.setattr(grading, "grade_code", lambda *a, **k: pytest.fail("graded twice"))
    assert grading.run_grading(submission.pk) == "busy"


def test_the_verdict_is_written_only_once(alice, exercise):
    submission = _submission(alice, exercise, status="running", started_at=timezone.now())
    assert grading.record_verdict(submission.pk, {"status": "passed", "message": "first"})
    assert not grading.record_verdict(submission.pk, {"status": "failed", "message": "second"})
    submission.refresh_from_db()
    assert submission.status == "passed" and submission.result["message"] == "first"


def test_a_missing_submission_is_reported_not_raised(db):
    assert grading.run_grading("00000000-0000-0000-0000-000000000000") == "missing"


def test_without_a_jail_it_refuses_to_grade_with_a_clear_error(
    alice, exercise, settings, monkeypatch
):
    settings.SANDBOX_ALLOW_UNJAILED = False
    monkeypatch.setattr(
        grading, "jail_status", lambda: (False, "bubblewrap (bwrap) is not installed")
    )
    submission = _submission(alice, exercise)
    assert grading.run_grading(submission.pk) == "error"
    submission.refresh_from_db()
    assert submission.status == "error"
    assert "sandbox that runs learner code is not available" in submission.result["message"]
    assert "bwrap" in submission.result["message"]


def test_an_allowed_unjailed_run_is_marked_and_shown_with_a_warning(
    alice, alice_client, exercise, settings, monkeypatch
):
    settings.SANDBOX_ALLOW_UNJAILED = True
    monkeypatch.setattr(grading, "jail_status", lambda: (False, "bubblewrap is not installed"))
    submission = _submission(alice, exercise, code=exercise.published_version.solution)
    assert grading.run_grading(submission.pk) == "passed"
    submission.refresh_from_db()
    assert submission.was_unjailed
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert "this run was not jailed" in html


def test_a_crash_in_the_grader_ends_as_an_error_not_a_stuck_submission(
    alice, exercise, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("bug in the grader")

    monkeypatch.setattr(grading, "grade_code", explode)
    submission = _submission(alice, exercise)
    assert grading.run_grading(submission.pk) == "error"
    submission.refresh_from_db()
    assert submission.status == "error" and "our bug, not yours" in submission.result["message"]


def test_relay_marks_the_request_dispatched_and_sends_the_task(alice, exercise, monkeypatch):
    sent = []
    monkeypatch.setattr(grade_submission, "delay", sent.append)
    submission = _submission(alice, exercise)
    assert dispatch.send_grading(submission.grading_request.pk)
    request = GradingRequest.objects.get()
    assert request.dispatched_at and request.dispatch_count == 1 and sent == [str(submission.pk)]


def test_a_failed_send_is_left_for_the_sweeper(alice, exercise, monkeypatch):
    def broker_down(*args):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(grade_submission, "delay", broker_down)
    submission = _submission(alice, exercise)
    assert not dispatch.send_grading(submission.grading_request.pk)
    assert GradingRequest.objects.get().dispatched_at is None


def test_the_sweeper_re_enqueues_lost_and_overdue_submissions_only(
    alice, bob, exercise, monkeypatch
):
    sent = []
    monkeypatch.setattr(grade_submission, "delay", sent.append)
    old = timezone.now() - timedelta(minutes=30)
    never_sent = _submission(alice, exercise, client_token="a", created_at=old)
    fresh = _submission(bob, exercise, client_token="b")
    Submission.objects.filter(pk=fresh.pk).update(status="passed")  # final: never swept
    overdue = _submission(bob, exercise, client_token="c", status="running", started_at=old)
    call_command("sweep_submissions", verbosity=0)
    assert sorted(sent) == sorted([str(never_sent.pk), str(overdue.pk)])
    assert GradingRequest.objects.get(submission=never_sent).dispatch_count == 1


def test_the_sweeper_dry_run_sends_nothing(alice, exercise, monkeypatch, capsys):
    monkeypatch.setattr(grade_submission, "delay", lambda *a: pytest.fail("sent"))
    stuck = _submission(alice, exercise, created_at=timezone.now() - timedelta(hours=1))
    call_command("sweep_submissions", "--dry-run")
    assert f"would re-enqueue {stuck.pk}" in capsys.readouterr().out


def test_the_sweep_task_counts_what_it_relayed(alice, exercise, monkeypatch):
    monkeypatch.setattr(grade_submission, "delay", lambda *a: None)
    _submission(alice, exercise, created_at=timezone.now() - timedelta(hours=1))
    assert sweep_submissions() == 1


def test_submitting_grades_through_the_outbox_in_eager_mode(
    alice_client, exercise, jail, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            "/exercises/idempotent-consumer/submit/",
            {"code": exercise.published_version.solution, "client_token": "go"},
        )
    submission = Submission.objects.get()
    assert submission.status == "passed" and submission.deliveries == 1
    assert submission.grading_request.dispatch_count == 1


def test_exploration_is_capped_by_the_setting_and_limits_by_the_exercise(exercise, settings):
    version = exercise.published_version
    version.limits = {"wall_seconds": 99, "memory_mb": 64}
    settings.SANDBOX_RANDOM_SCHEDULES = 7
    options = grading.grading_options(version)
    assert options["random_schedules"] == 7
    assert options["limits"].memory_mb == 64
    assert options["limits"].wall_seconds == 30.0  # clamped to the sandbox's ceiling


def test_a_retry_in_the_same_process_takes_back_the_claim_its_failed_attempt_left(
    alice, exercise, jail
):
    # An attempt that met a database outage after claiming ended without a verdict; Celery retries it.
    submission = _submission(
        alice,
        exercise,
        status="running",
        started_at=timezone.now(),
        deliveries=1,
        claimed_by=grading.claimant(),
    )
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.deliveries == 2


def test_a_claim_another_delivery_in_this_process_is_running_is_respected(
    alice, exercise, monkeypatch
):
    submission = _submission(
        alice,
        exercise,
        status="running",
        started_at=timezone.now(),
        deliveries=1,
        claimed_by=grading.claimant(),
    )
    monkeypatch.setattr(grading, "grade_code", lambda *a, **k: pytest.fail("graded twice"))
    with grading._delivery_here(submission.pk):  # another thread of this process is grading it
        assert grading.run_grading(submission.pk) == "busy"
    submission.refresh_from_db()
    assert submission.status == "running" and submission.deliveries == 1


def test_a_database_outage_as_a_delivery_starts_leaves_nothing_claimed(
    alice, exercise, monkeypatch
):
    from django.db import OperationalError

    submission = _submission(alice, exercise)

    def outage(*args, **kwargs):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(grading.Submission.objects, "select_related", outage)
    with pytest.raises(OperationalError):
        grading.run_grading(submission.pk)
    monkeypatch.undo()
    submission.refresh_from_db()
    # Celery's retry (in whichever process) can claim it at once, not after the claim's deadline.
    assert submission.status == "queued" and submission.deliveries == 0
