"""A learner signs in, fails an exercise, reads the broken invariant and its
timeline, submits a fix, passes, and sees it marked passed in the catalogue."""

from __future__ import annotations

import re
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise
from tests.conftest import need


@pytest.fixture
def eager_grading(settings):
    from courseapp.celery import app

    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = ""  # no worker serves these tests, even where CI has a broker
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 50
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def exercise(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield Exercise.objects.get(slug="idempotent-consumer")
    # allauth's rate limits live in the cache: leave none of our logins to the next test.
    cache.clear()


def _session_login(page, live_server, user, next_url):
    """Log in with a session cookie (the form itself is exercised once, in the journey)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(next_url)


def _sign_in(page, email, password, next_url):
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_url}")


def test_a_learner_fails_reads_the_trace_fixes_and_passes(
    page, exercise, alice, password, eager_grading
):
    version = exercise.published_version
    _sign_in(page, alice.email, password, exercise.get_absolute_url())

    # A hint, revealed in place by htmx.
    page.get_by_role("button", name=re.compile("Show a hint")).click()
    expect(page.locator("#hints li")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Show the next hint"))).to_be_visible()

    # The starter code is in the editor; submit it as it is.
    editor = page.locator("textarea[name=code]")
    expect(editor).to_have_value(re.compile("def on_payment_captured"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(r"/exercises/idempotent-consumer/"))
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed")
    broken = verdict.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken).to_contain_text("Confirmed exactly once")
    expect(verdict.locator(".timeline-wrap svg.timeline:visible")).to_be_visible()
    expect(verdict.locator(".timeline-wrap svg.timeline:visible")).to_contain_text("deliver")

    # "Replay this schedule" loads the counterexample's seed and faults into Run; Run runs them.
    seed = page.locator(".verdict .fault-line code").first.inner_text()
    page.get_by_role("button", name="Replay this schedule").click()
    expect(page.locator("#run-seed")).to_have_value(seed)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_focused()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".run-result")).to_contain_text(f"Run of seed {seed}", timeout=30_000)

    # Submit the fix, typed into the editor (CodeMirror; the hidden textarea follows it).
    page.get_by_role("textbox", name="Your code").fill(version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=30_000
    )
    expect(page.locator(".solution")).to_contain_text("Show the reference solution")

    page.goto("/exercises/")
    card = page.locator(".exercise-card[data-slug=idempotent-consumer]")
    # The badge carries a visually hidden "Status: " for screen readers.
    expect(card.locator(".badge")).to_have_text("Status: Passed")


def test_the_editor_indents_with_tab_and_lets_keyboard_users_leave(
    page, live_server, exercise, alice
):
    _session_login(page, live_server, alice, exercise.get_absolute_url())
    editor = page.get_by_role("textbox", name="Your code")
    code = page.locator("textarea[name=code]")  # hidden; it follows the editor and is posted
    editor.fill("x = 1")
    editor.press("Home")
    editor.press("Tab")
    expect(code).to_have_value("    x = 1")
    editor.press("Shift+Tab")
    expect(code).to_have_value("x = 1")
    editor.fill("def f():")
    editor.press("End")
    editor.press("Enter")
    editor.type("return 1")
    expect(code).to_have_value("def f():\n    return 1")
    editor.press("Escape")
    editor.press("Tab")
    expect(editor).not_to_be_focused()
    expect(code).to_have_value("def f():\n    return 1")


def test_without_javascript_a_learner_can_reveal_hints_submit_and_read_the_verdict(
    js_disabled_page, live_server, exercise, alice, eager_grading
):
    page = js_disabled_page
    _session_login(page, live_server, alice, exercise.get_absolute_url())
    page.get_by_role("button", name=re.compile("Show a hint")).click()
    page.wait_for_url(re.compile(r"/exercises/idempotent-consumer/"))
    expect(page.locator("#hints li")).to_have_count(1)
    page.locator("textarea[name=code]").fill("def on_payment_captured(event, ctx):\n    pass\n")
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text("Failed")
    expect(page.locator(".invariants")).to_contain_text("No lost event")
    page.get_by_role("button", name="Replay this schedule").click()
    expect(page.get_by_role("heading", name="Replaying one schedule")).to_be_visible()


def test_a_verdict_appears_without_reloading_while_grading_runs(page, live_server, exercise, alice):
    from exercises.models import Submission

    _session_login(page, live_server, alice, exercise.get_absolute_url())
    submission = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="poll",
        status="running",
    )
    page.goto(submission.get_absolute_url())
    expect(page.locator(".submission-status")).to_contain_text("being graded")
    page.evaluate("window.notReloaded = true")
    Submission.objects.filter(pk=submission.pk).update(
        status="error",
        result={
            "status": "error",
            "message": "line 1: a made-up verdict for this test",
            "invariants": [],
            "schedules_explored": 0,
        },
    )
    expect(page.locator(".submission-status")).to_contain_text("a made-up verdict", timeout=5_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator(".submission-status[hx-trigger]")).to_have_count(0)
