"""Browser journey through the holds-that-expire lesson and its exercise: a claim preset runs the
playground and shows the late confirm it names, the lesson leads to the exercise, and the reference
solution passes in the real jail."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from exercises.models import Exercise
from tests.browser.conftest import session_login

SLUG = "holds-that-expire"
LESSON = "/lessons/holds-that-expire/"


def test_a_reader_runs_the_long_deadline_claim_and_sees_the_confirm_arrive_too_late(page, content):
    page.goto(LESSON)
    claim = page.locator(".claim", has_text="Decide within the shortest hold off").filter(
        has_text="The coordinator decides before the holds expire"
    )
    expect(claim.first).to_contain_text("Expected:")
    claim.first.get_by_role("link", name="Run it").click()

    playground = page.locator("#playground-expiring-holds")
    expect(playground.get_by_label("Decide within the shortest hold")).not_to_be_checked()
    expect(playground.get_by_label("Holds expire by themselves")).to_be_checked()
    result = page.locator("#playground-expiring-holds-result")
    expect(result).to_contain_text("An invariant broke.")
    expect(
        result.locator("li", has_text="The coordinator decides before the holds expire")
    ).to_contain_text("broken")
    expect(result.locator("li", has_text="No hold is left blocking")).to_contain_text("held")
    assert "playground=expiring-holds" in page.url


def test_the_lesson_leads_to_the_exercise_and_the_reference_passes_in_the_jail(
    page, live_server, content, alice, eager_grading
):
    exercise = Exercise.objects.get(slug=SLUG)
    version = exercise.published_version
    session_login(page, live_server, alice, LESSON)
    page.locator(f"a[href='{exercise.get_absolute_url()}']").first.click()
    page.wait_for_url(re.compile(rf"/exercises/{SLUG}/"))
    expect(page.locator("textarea[name=code]")).to_have_value(re.compile("def checkout"))

    page.get_by_role("textbox", name="Your code").fill(version.solution)
    page.get_by_role("button", name="Submit for grading").click()
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Passed", timeout=120_000)
    expect(verdict.locator(".invariants li", has_text="No hold is left blocking")).to_contain_text(
        "held"
    )
