"""Replays and verdicts come from a worker, never from the web request: the
page waits and updates itself, with JavaScript (htmx polling) and without
(a plain POST, a redirect, a page that refreshes until the answer is there).
Here the embedded mode runs them on background threads; fair-share refusals
keep the learner's code in the editor."""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Replay, Submission
from tests.conftest import need


@pytest.fixture
def embedded(settings):
    """The embedded mode as `make run` has it: eager tasks, run on the background threads."""
    from courseapp.celery import app

    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 30
    settings.GRADING_BACKGROUND_THREADS = 2
    settings.CELERY_BROKER_URL = ""  # no worker serves these tests, even where CI has a broker
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def exercise(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield Exercise.objects.get(slug="idempotent-consumer")
    cache.clear()


def _login(page, live_server, user, url):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(url)


def _failed(user, exercise) -> Submission:
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=exercise.published_version.starter,
        client_token=uuid.uuid4().hex,
    )
    GradingRequest.objects.create(submission=submission)
    grading.run_grading(submission.pk)
    submission.refresh_from_db()
    return submission


def test_a_replay_is_queued_and_its_result_appears_in_place(
    page, live_server, exercise, alice, embedded
):
    submission = _failed(alice, exercise)
    _login(page, live_server, alice, submission.get_absolute_url())
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Replay this schedule").click()
    result = page.locator(".replay-result")
    expect(result).to_contain_text(f"Replay of seed {submission.counterexample['seed']}")
    expect(result.locator(".badge")).to_have_text("Failed")
    expect(page.locator(".replay-status[hx-trigger]")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert Replay.objects.get().is_done


def test_without_javascript_a_replay_page_refreshes_until_the_result_is_there(
    js_disabled_page, live_server, exercise, alice, embedded
):
    page = js_disabled_page
    submission = _failed(alice, exercise)
    _login(page, live_server, alice, submission.get_absolute_url())
    page.get_by_role("button", name="Replay this schedule").click()
    page.wait_for_url(re.compile(r"/exercises/replays/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", name="Replaying one schedule")).to_be_visible()
    expect(page.locator(".replay-result")).to_contain_text("Replay of seed", timeout=20_000)
    expect(page.get_by_role("link", name="the submission")).to_be_visible()


def test_without_javascript_a_submission_ends_on_its_verdict(
    js_disabled_page, live_server, exercise, alice, embedded
):
    page = js_disabled_page
    _login(page, live_server, alice, exercise.get_absolute_url())
    page.locator("textarea[name=code]").fill(exercise.published_version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=30_000
    )


def test_a_refused_submission_keeps_the_code_and_says_why(
    page, live_server, exercise, django_user_model, settings
):
    settings.SUBMIT_REQUIRES_VERIFIED_EMAIL = True
    newcomer = django_user_model.objects.create_user(
        "newcomer", "newcomer@example.com", "a-long-secret-phrase-1"
    )
    _login(page, live_server, newcomer, exercise.get_absolute_url())
    page.get_by_role("textbox", name="Your code").fill(
        "def on_payment_captured(event, ctx):\n    return 'mine'\n"
    )
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator("#submit-error")).to_contain_text(
        "Confirm your e-mail address before submitting"
    )
    expect(page.locator("textarea[name=code]")).to_have_value(re.compile("return 'mine'"))
    assert not Submission.objects.exists()
