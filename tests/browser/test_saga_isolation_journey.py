"""Browser journey through the saga-isolation lesson and its exercise: a claim preset runs the
playground and shows the lost update it names, the lesson leads to the exercise, and the
reference solution passes in the real jail."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from exercises.models import Exercise
from tests.browser.conftest import session_login

SLUG = "saga-isolation"


def test_a_reader_runs_the_plain_write_claim_and_sees_the_lost_update(page, content):
    page.goto("/lessons/saga-isolation/")
    claim = page.locator(
        ".claim", has_text="Writes are conditional on the version read off"
    ).filter(has_text="No update is lost")
    expect(claim.first).to_contain_text("Expected:")
    claim.first.get_by_role("link", name="Run it").click()

    playground = page.locator("#playground-saga-isolation")
    expect(
        playground.get_by_label("Writes are conditional on the version read")
    ).not_to_be_checked()
    expect(
        playground.get_by_label("Reserve takes the units at once (a semantic lock)")
    ).to_be_checked()
    result = page.locator("#playground-saga-isolation-result")
    expect(result).to_contain_text("An invariant broke.")
    expect(result.locator("li", has_text="No update is lost")).to_contain_text("broken")
    expect(result.locator("li", has_text="No unit is promised twice")).to_contain_text("broken")
    expect(result.locator("li", has_text="A confirmed order is complete")).to_contain_text("held")
    assert "playground=saga-isolation" in page.url


def test_the_lesson_leads_to_the_exercise_and_the_reference_passes_in_the_jail(
    page, live_server, content, alice, eager_grading
):
    exercise = Exercise.objects.get(slug=SLUG)
    version = exercise.published_version
    session_login(page, live_server, alice, "/lessons/saga-isolation/")
    page.locator(f"a[href='{exercise.get_absolute_url()}']").first.click()
    page.wait_for_url(re.compile(rf"/exercises/{SLUG}/"))
    expect(page.locator("textarea[name=code]")).to_have_value(re.compile("def reserve"))

    page.get_by_role("textbox", name="Your code").fill(version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Passed", timeout=90_000)
    expect(verdict.locator(".invariants li", has_text="No update is lost")).to_contain_text("held")
