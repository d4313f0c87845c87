"""A learner opens the circuit-breaker exercise, submits the starter (no breaker at all) and reads
which rule it broke, then submits a complete breaker and passes."""

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
from sandbox import scenarios
from sandbox.invariants import INVARIANTS
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
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def exercise(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield Exercise.objects.get(slug="circuit-breaker")
    cache.clear()


def _session_login(page, live_server, user, next_url):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(next_url)


def test_the_starter_fails_on_bounded_load_and_a_complete_breaker_passes(
    page, live_server, exercise, alice, eager_grading
):
    sc = scenarios.get("circuit_breaker")
    _session_login(page, live_server, alice, exercise.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(exercise.title)

    # The starter sends every request to Inventory, down or not.
    editor = page.locator("textarea[name=code]")
    expect(editor).to_have_value(re.compile("def allow_request"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(r"/exercises/circuit-breaker/"))
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed", timeout=60_000)
    broken = verdict.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken.first).to_contain_text(INVARIANTS["bounded_load_while_failing"].title)
    expect(verdict.locator(".timeline-wrap svg").first).to_be_visible()

    # The reference breaker, typed into the editor, passes.
    page.get_by_role("textbox", name="Your code").fill(sc.reference_source)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=180_000
    )
