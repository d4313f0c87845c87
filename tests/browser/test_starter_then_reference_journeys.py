"""A learner opens a newer exercise, submits its starter and reads which rule it broke (with the
timeline), then types the reference into the editor and passes. Both gradings run in the jail."""

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
from tests.browser.conftest import session_login

# (exercise, scenario, a function its starter defines, the invariant the starter breaks)
JOURNEYS = [
    # The starter sends every request to Inventory, down or not.
    ("circuit-breaker", "circuit_breaker", "allow_request", "bounded_load_while_failing"),
    # The starter publishes every unsent row and marks it: fine alone, not with two relays.
    ("outbox-relay-loop", "outbox_relay", "relay_tick", "duplicates_only_after_crash"),
]


@pytest.fixture
def exercises(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield
    cache.clear()


@pytest.mark.parametrize(
    "slug, scenario, function, invariant", JOURNEYS, ids=[j[0] for j in JOURNEYS]
)
def test_the_starter_breaks_its_rule_and_the_reference_passes(
    page, live_server, exercises, alice, eager_grading, slug, scenario, function, invariant
):
    exercise = Exercise.objects.get(slug=slug)
    session_login(page, live_server, alice, exercise.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(exercise.title)

    editor = page.locator("textarea[name=code]")
    expect(editor).to_have_value(re.compile(f"def {function}"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(re.compile(f"/exercises/{slug}/"))
    verdict = page.locator(".submission-status")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed", timeout=60_000)
    broken = verdict.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken.first).to_contain_text(INVARIANTS[invariant].title)
    expect(verdict.locator(".timeline-wrap svg").first).to_be_visible()

    page.get_by_role("textbox", name="Your code").fill(scenarios.get(scenario).reference_source)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Passed", timeout=180_000
    )
