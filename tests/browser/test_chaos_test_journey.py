"""A learner opens the chaos-test exercise, submits the starter (a check that looks only at the order's
status) and reads which hidden bug went unnoticed, in words; then submits a complete set of checks and
passes."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise
from sandbox import scenarios
from sandbox.invariants import INVARIANTS
from sandbox.scenarios.chaos_checks import HIDDEN
from tests.browser.conftest import session_login


@pytest.fixture
def exercise(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield Exercise.objects.get(slug="chaos-test")
    cache.clear()


def test_the_starter_misses_a_named_bug_and_complete_checks_pass(
    page, live_server, exercise, alice, eager_grading
):
    sc = scenarios.get("chaos_checks")
    session_login(page, live_server, alice, exercise.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(exercise.title)

    # The starter only looks at each order's final status: most hidden bugs go unnoticed.
    editor = page.locator("textarea[name=code]")
    expect(editor).to_have_value(re.compile("def check"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(r"/exercises/chaos-test/"))
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed", timeout=120_000)
    broken = verdict.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken.first).to_contain_text(INVARIANTS["every_bug_caught"].title)
    # The missed bug is named in words (what misbehaves and how), never by its code.
    missed = "|".join(re.escape(words[:60]) for words, _ in HIDDEN.values())
    expect(verdict).to_contain_text(re.compile(f"({missed}).*went unnoticed", re.S))
    for variant in HIDDEN:
        expect(verdict).not_to_contain_text(variant)

    # The reference checks, typed into the editor, pass.
    page.get_by_role("textbox", name="Your code").fill(sc.reference_source)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=180_000
    )
    expect(page.locator(".submission-status")).to_contain_text(
        f"caught all {len(HIDDEN)} hidden bugs"
    )
