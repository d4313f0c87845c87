"""An anonymous visitor opens an exercise, runs the starter and reads its trace, edits, runs again,
clicks submit, is asked to sign up, signs up, finds the code still in the editor and submits it.
Runs come from the background threads of the embedded mode (never the request), through the jail."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission
from tests.conftest import need

PASSWORD = "a-long-secret-phrase-1"


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


def _editor(page):
    return page.get_by_role("textbox", name="Your code")


def _run_button(page):
    return page.get_by_role("button", name="Run", exact=True)


def test_an_anonymous_visitor_runs_edits_signs_up_and_submits_the_same_code(
    page, live_server, exercise, embedded
):
    version = exercise.published_version
    page.goto(exercise.get_absolute_url())
    expect(page.locator("#anonymous-note")).to_contain_text("run code here without an account")
    page.evaluate("window.notReloaded = true")

    # The starter, on one calm schedule: it already breaks, and the trace says how.
    _run_button(page).click()
    result = page.locator("#run-result .run-result")
    expect(result).to_contain_text("Run of seed 0, no faults", timeout=30_000)
    expect(result.locator(".run-title .badge")).to_have_text("Failed")
    expect(result.locator(".timeline-wrap svg").filter(visible=True)).to_have_count(1)
    expect(result.locator(".invariants")).to_contain_text("Confirmed exactly once")
    expect(result).to_contain_text("This was a run, not a submission")

    # Edit the code and run again, in place.
    _editor(page).fill(version.solution)
    _run_button(page).click()
    expect(result.locator(".run-title .badge")).to_have_text("Passed", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    assert not Submission.objects.exists()

    # Submitting needs an account: the visitor is asked to sign up, the code kept.
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(r"/accounts/signup/\?next="))
    expect(page.locator(".messages")).to_contain_text("Your code is kept")
    expect(page.locator("#progress-kept")).to_contain_text("Your progress so far is kept")
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    # Back on the exercise, signed in, with the code that was run in the editor.
    page.wait_for_url(f"**{exercise.get_absolute_url()}")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("erin@example.com")
    expect(page.locator("#draft-note")).to_be_visible()
    expect(page.locator("textarea[name=code]")).to_have_value(version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=60_000
    )
    assert Submission.objects.get().code == version.solution


def test_a_refused_run_says_why_in_the_panel_and_keeps_the_code(
    page, live_server, exercise, embedded, settings
):
    settings.RUN_RATE_LIMIT = "1/m/user,10/m/ip"
    page.goto(exercise.get_absolute_url())
    mine = "def on_payment_captured(event, ctx):\n    pass  # mine\n"
    _editor(page).fill(mine)
    _run_button(page).click()
    expect(page.locator("#run-result .run-result")).to_contain_text("Run of seed", timeout=30_000)
    _run_button(page).click()
    refused = page.locator("#run-refused")
    expect(refused).to_contain_text("the limit is 1 run a minute per account or visitor")
    expect(page.locator("textarea[name=code]")).to_have_value(mine)

    # A bad schedule is refused the same way, the code untouched.
    page.locator(".run-schedule summary").click()
    page.fill("#run-faults", "[{not json")
    settings.RUN_RATE_LIMIT = "10/m/user,10/m/ip"
    _run_button(page).click()
    expect(refused).to_contain_text("not valid JSON")
    expect(page.locator("textarea[name=code]")).to_have_value(mine)


def test_without_javascript_a_run_page_refreshes_until_the_result_is_there(
    js_disabled_page, live_server, exercise, embedded
):
    page = js_disabled_page
    page.goto(exercise.get_absolute_url())
    page.locator("textarea[name=code]").fill(exercise.published_version.solution)
    _run_button(page).click()
    page.wait_for_url(re.compile(r"\?run=[0-9a-f-]+#run$"))
    expect(page.locator(".run-result")).to_contain_text("Run of seed 0, no faults", timeout=30_000)
    expect(page.locator("textarea[name=code]")).to_have_value(exercise.published_version.solution)


def test_on_a_phone_the_run_panel_fits_the_screen(browser, live_server, exercise, embedded):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(exercise.get_absolute_url())
        _run_button(page).click()
        expect(page.locator("#run-result .run-result")).to_contain_text(
            "Run of seed", timeout=30_000
        )
        page.locator("#run-result details").evaluate_all("els => els.forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
