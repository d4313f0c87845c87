"""Browser journey through the unknown-outcomes lesson and its exercise: a claim preset shows the
invariant it names, the starter fails naming it, the reference passes."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from exercises import grading
from exercises.models import Exercise
from tests.conftest import need

SLUG = "unknown-payment-outcome"


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
    cache.clear()


def _sign_in(page, email, password, next_url):
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_url}")


def test_a_reader_runs_the_tombstone_claim_and_sees_a_cancelled_order_keep_its_money(page, content):
    page.goto("/lessons/unknown-outcomes/")
    claim = page.locator(".claim", has_text="Give up with a cancel (a tombstone) off").filter(
        has_text="A cancelled order is clean"
    )
    expect(claim.first).to_contain_text("Expected:")
    claim.first.get_by_role("link", name="Run it").click()

    playground = page.locator("#playground-unknown-outcome")
    expect(playground.get_by_label("Give up with a cancel (a tombstone)")).not_to_be_checked()
    expect(playground.get_by_label("The first capture is slow")).to_be_checked()
    result = page.locator("#playground-unknown-outcome-result")
    expect(result).to_contain_text("An invariant broke.")
    expect(result.locator("li", has_text="A cancelled order is clean")).to_contain_text("broken")
    expect(result.locator("li", has_text="No double charge")).to_contain_text("held")
    assert "playground=unknown-outcome" in page.url


def test_the_late_payment_claim_in_worked_example_a_breaks_the_clean_cancellation(page, content):
    page.goto("/lessons/sagas-and-choreography/")
    page.locator(
        ".claim", has_text="Refund a payment that succeeds too late off"
    ).first.get_by_role("link", name="Run it").click()
    result = page.locator("#playground-late-payment-result")
    expect(result.locator("li", has_text="A cancelled order is clean")).to_contain_text("broken")


def test_the_starter_fails_naming_the_invariant_and_the_reference_passes(
    page, content, alice, password, eager_grading
):
    exercise = Exercise.objects.get(slug=SLUG)
    version = exercise.published_version
    _sign_in(page, alice.email, password, exercise.get_absolute_url())

    editor = page.locator("textarea[name=code]")
    expect(editor).to_have_value(re.compile("def checkout"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(rf"/exercises/{SLUG}/"))
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed", timeout=60_000)
    broken = verdict.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken.first).to_contain_text("An order is cancelled only for a reason")

    page.get_by_role("textbox", name="Your code").fill(version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=90_000
    )
