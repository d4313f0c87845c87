"""No grading in the web process: "Replay this schedule" is queued for a worker
(the short queue) and its page polls (htmx) or refreshes (no JavaScript); in the
embedded mode tasks run on background threads after commit, never in the
request's thread. Replays are claimed once and answered once."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from courseapp.lib.content import LoadReport
from exercises import grading, replays, sweeper
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Replay, Submission
from exercises.tasks import replay_schedule
from tests.conftest import need
from tests.workers import celery_worker, wait_for


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


def _failed(user, exercise) -> Submission:
    """A graded, failed submission with a counterexample (graded for real, in the jail)."""
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=exercise.published_version.starter,
        client_token="f",
    )
    GradingRequest.objects.create(submission=submission)
    assert grading.run_grading(submission.pk) == "failed"
    submission.refresh_from_db()
    return submission


def _no_grading_here(monkeypatch):
    monkeypatch.setattr(
        grading, "grade_code", lambda *a, **k: pytest.fail("graded inside the web request")
    )


def test_posting_a_replay_queues_it_and_grades_nothing_in_the_request(
    alice_client, alice, exercise, jail, monkeypatch, django_capture_on_commit_callbacks
):
    submission = _failed(alice, exercise)
    _no_grading_here(monkeypatch)
    sent = []
    monkeypatch.setattr(replay_schedule, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(submission.get_absolute_url() + "replay/")
    replay = Replay.objects.get()
    assert response.status_code == 302 and response.url == replay.get_absolute_url()
    assert replay.status == "queued" and replay.result is None and sent == [str(replay.pk)]


def test_without_javascript_the_replay_page_refreshes_itself_until_done(
    alice_client, alice, exercise, jail, monkeypatch
):
    submission = _failed(alice, exercise)
    monkeypatch.setattr(replay_schedule, "delay", lambda *a: None)
    page = alice_client.get(
        alice_client.post(submission.get_absolute_url() + "replay/").url
    ).content.decode()
    assert "<h1>Replaying one schedule</h1>" in page and "waiting for a grader" in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    replay = Replay.objects.get()
    assert replays.run_replay(replay.pk) == "failed"
    page = alice_client.get(replay.get_absolute_url()).content.decode()
    assert (
        "http-equiv" not in page and f"Replay of seed {submission.counterexample['seed']}" in page
    )


def test_with_htmx_the_partial_polls_until_the_replay_is_done(
    alice_client, alice, exercise, jail, monkeypatch
):
    submission = _failed(alice, exercise)
    monkeypatch.setattr(replay_schedule, "delay", lambda *a: None)
    partial = alice_client.post(
        submission.get_absolute_url() + "replay/", HTTP_HX_REQUEST="true"
    ).content.decode()
    replay = Replay.objects.get()
    assert (
        f'hx-get="{replay.get_absolute_url()}" hx-trigger="every 1s"' in partial
        and "<html" not in partial
    )
    replays.run_replay(replay.pk)
    partial = alice_client.get(replay.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial and "badge failed" in partial and "<svg" in partial


def test_a_second_post_while_one_is_in_flight_reuses_it(
    alice_client, alice, exercise, jail, monkeypatch
):
    submission = _failed(alice, exercise)
    monkeypatch.setattr(replay_schedule, "delay", lambda *a: None)
    first = alice_client.post(submission.get_absolute_url() + "replay/").url
    second = alice_client.post(submission.get_absolute_url() + "replay/").url
    assert first == second and Replay.objects.count() == 1


def test_a_replay_is_answered_once(alice, exercise, jail):
    replay, _ = replays.request_replay(_failed(alice, exercise))
    assert replay_schedule.apply(args=[str(replay.pk)]).get() == "failed"
    replay.refresh_from_db()
    first = (replay.result, replay.finished_at)
    assert replay_schedule.apply(args=[str(replay.pk)]).get() == "done"
    replay.refresh_from_db()
    assert (replay.result, replay.finished_at) == first and replay.deliveries == 1


def test_a_replay_whose_deliveries_kept_dying_is_stopped(alice, exercise, jail, monkeypatch):
    replay, _ = replays.request_replay(_failed(alice, exercise))
    gone = subprocess.Popen(["true"])
    gone.wait()
    Replay.objects.filter(pk=replay.pk).update(
        status="running",
        deliveries=3,
        started_at=timezone.now(),
        claimed_by=f"{socket.gethostname()}:{gone.pid}",
    )
    _no_grading_here(monkeypatch)
    assert replays.run_replay(replay.pk) == "retired"
    replay.refresh_from_db()
    assert replay.is_done and "crashed the grader 3 times" in replay.result["message"]


def test_someone_elses_replay_is_not_found(client, alice, bob, exercise, jail, monkeypatch):
    monkeypatch.setattr(replay_schedule, "delay", lambda *a: None)
    replay, _ = replays.request_replay(_failed(alice, exercise))
    client.force_login(bob)
    assert client.get(replay.get_absolute_url()).status_code == 404


def test_replays_are_rate_limited_without_grading(alice_client, alice, exercise, jail, monkeypatch):
    from exercises.views import REPLAYS_PER_MINUTE

    submission = _failed(alice, exercise)
    monkeypatch.setattr(replay_schedule, "delay", lambda *a: None)
    for _ in range(REPLAYS_PER_MINUTE):
        alice_client.post(submission.get_absolute_url() + "replay/")
        Replay.objects.update(status="done", result={"status": "failed"})
    response = alice_client.post(submission.get_absolute_url() + "replay/", HTTP_HX_REQUEST="true")
    assert response.status_code == 429 and "schedules a minute" in response.content.decode()


def test_the_sweeper_resends_a_lost_replay(alice, exercise, jail, monkeypatch):
    sent = []
    monkeypatch.setattr(replay_schedule, "delay", sent.append)
    replay, _ = replays.request_replay(_failed(alice, exercise))
    Replay.objects.filter(pk=replay.pk).update(
        created_at=timezone.now() - timedelta(minutes=5), dispatched_at=None
    )
    sweeper.sweep()
    assert sent == [str(replay.pk)]


def test_replays_go_to_the_short_queue_which_a_plain_worker_consumes(settings):
    from courseapp.celery import app

    assert app.amqp.router.route({}, "exercises.tasks.replay_schedule")["queue"].name == "short"
    assert app.amqp.router.route({}, "exercises.tasks.grade_submission")["queue"].name == "celery"
    assert {"celery", "short"} <= set(app.amqp.queues)


# -- the embedded mode: background threads, not the request ----------------------------------


@pytest.fixture
def embedded(settings):
    from courseapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.GRADING_BACKGROUND_THREADS = 2
    yield
    app.conf.task_always_eager = before


def test_in_the_embedded_mode_a_submission_is_graded_on_a_background_thread(
    transactional_db, client, django_user_model, embedded, jail, settings, caplog
):
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    load_exercises(CONTENT_DIR, LoadReport())
    user = django_user_model.objects.create_user("emb", "emb@example.com", "a-long-secret-phrase-1")
    client.force_login(user)
    with caplog.at_level(logging.INFO, logger="exercises.grading"):
        response = client.post(
            "/exercises/idempotent-consumer/submit/",
            {
                "code": Exercise.objects.get(slug="idempotent-consumer").published_version.starter,
                "client_token": "bg",
            },
        )
        assert response.status_code == 302
        assert wait_for(lambda: Submission.objects.get().is_done, 120)
    assert Submission.objects.get().status == "failed"
    graders = {
        r.threadName for r in caplog.records if r.getMessage().startswith("grading submission")
    }
    assert graders and all(name.startswith("saga-task") for name in graders)
    assert threading.current_thread().name not in graders


def test_in_the_embedded_mode_a_grading_left_by_a_restarted_server_is_taken_over_when_polled(
    transactional_db, client, django_user_model, embedded, jail, settings, monkeypatch
):
    from exercises import tasks

    settings.SANDBOX_RANDOM_SCHEDULES = 20
    monkeypatch.setattr(tasks, "_last_sweep", [0.0])
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    user = django_user_model.objects.create_user("rs", "rs@example.com", "a-long-secret-phrase-1")
    gone = subprocess.Popen(["true"])
    gone.wait()
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=exercise.published_version.starter,
        client_token="rs",
        status="running",
        deliveries=1,
        started_at=timezone.now(),
        claimed_by=f"{socket.gethostname()}:{gone.pid}",
    )
    GradingRequest.objects.create(
        submission=submission, dispatched_at=timezone.now(), dispatch_count=1
    )
    client.force_login(user)
    client.get(submission.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert wait_for(lambda: Submission.objects.get(pk=submission.pk).is_done, 120)
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.deliveries == 2


def test_the_background_pool_is_bounded(embedded, monkeypatch):
    from exercises import tasks

    monkeypatch.setattr(tasks, "BACKGROUND_BACKLOG", 1)
    pool = tasks._Background()
    gate = threading.Event()

    class Slow:
        name = "slow"

        def apply(self, *args, **kwargs):
            gate.wait(10)

    pool.submit(Slow(), [], {}, "a")
    with pytest.raises(tasks.BackgroundFull):
        pool.submit(Slow(), [], {}, "b")
    gate.set()
    assert wait_for(lambda: pool._slots.acquire(blocking=False), 10, 0.05)


# -- through a real worker started without -Q ----------------------------------------------


@pytest.mark.services
def test_a_plain_worker_replays_a_schedule_from_the_short_queue(
    transactional_db, django_user_model, settings
):
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL is not set")
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    from courseapp.celery import app

    settings.SANDBOX_RANDOM_SCHEDULES = 20
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    user = django_user_model.objects.create_user("rw", "rw@example.com", "a-long-secret-phrase-1")
    submission = _failed(user, exercise)
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with celery_worker(
            "--pool=prefork", "--concurrency=1", SANDBOX_RANDOM_SCHEDULES="20"
        ) as worker:
            replay, _ = replays.request_replay(submission)
            assert wait_for(lambda: Replay.objects.get(pk=replay.pk).is_done, 120), worker.log()[
                -3000:
            ]
    finally:
        app.conf.task_always_eager = before
    replay.refresh_from_db()
    assert (
        replay.result["status"] == "failed"
        and replay.result["seed"] == submission.counterexample["seed"]
    )
    assert replay.claimed_by.rpartition(":")[2] != str(os.getpid())
