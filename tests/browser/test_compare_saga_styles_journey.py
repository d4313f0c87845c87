"""A learner opens the compare-saga-styles exercise, submits an orchestrator that forgets its
compensation and reads which style broke which rule, then submits the reference, passes, and reads
the two styles' calm runs side by side (messages, hops, where the saga's logic runs).

Each grading of this exercise explores two scenarios in the jail, so the journey grades twice only
(17 to 21 s in all here with eager_grading's 20 random schedules; capping them at 5 saved only 3 s, as
most of a grading is the single-fault pass that places every fault once)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission
from sandbox import scenarios
from sandbox.invariants import INVARIANTS
from tests.browser.conftest import session_login

SC = scenarios.get("saga_styles")
# Declines a payment without releasing the stock it reserved: only the orchestration breaks.
VARIANT = "orchestration_without_compensation"


@pytest.fixture
def exercise(transactional_db):
    load_exercises(CONTENT_DIR, LoadReport())
    yield Exercise.objects.get(slug="compare-saga-styles")
    cache.clear()


def _submit(page, source: str, verdict: str):
    page.get_by_role("textbox", name="Your code").fill(source)
    # The hidden textarea (what is posted) follows the editor.
    expect(page.locator("textarea[name=code]")).to_have_value(source)
    page.get_by_role("button", name="Submit for grading").click()
    status = page.locator(".submission-status")
    expect(status.locator(".verdict-title .badge")).to_have_text(verdict, timeout=180_000)
    return status


def _column(status, style: str):
    return status.locator(
        ".style-column", has=status.page.get_by_role("heading", name=re.compile(style))
    )


def test_a_learner_sees_which_style_broke_then_compares_both_styles_calm_runs(
    page, live_server, exercise, alice, eager_grading
):
    session_login(page, live_server, alice, exercise.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_contain_text(exercise.title)
    expect(page.locator(".cm-content")).to_be_visible()  # the editor is mounted: typing reaches it
    code = page.locator("textarea[name=code]")
    expect(code).to_have_value(re.compile("def on_order_created"))
    expect(code).to_have_value(re.compile("def handle_place_order"))

    # The orchestrator that forgets to release the stock: the verdict names the style that broke.
    source, invariant = SC.variants[VARIANT]
    status = _submit(page, source, "Failed")
    expect(status.locator(".verdict-message")).to_contain_text(re.compile(r"^Orchestration: "))
    broken = status.locator(".invariants li", has=page.locator(".badge.broken"))
    expect(broken).to_have_count(1)
    expect(broken).to_contain_text(INVARIANTS[invariant].title)
    violation = status.locator("p.violation")
    expect(violation.first).to_contain_text(f"orchestration: {INVARIANTS[invariant].title}")
    expect(violation.filter(has_text="choreography:")).to_have_count(0)
    expect(_column(status, "Orchestration").locator(".badge")).to_have_text("failed")
    expect(_column(status, "Choreography").locator(".badge")).to_have_text("passed")
    counterexample = page.get_by_role("region", name="Timeline of the schedule that breaks it")
    expect(counterexample.locator("svg.timeline:visible")).to_be_visible()

    # The reference passes, and each column shows the counts the grader took from its calm run.
    status = _submit(page, SC.reference_source, "Passed")
    expect(status.get_by_role("heading", name="The two styles side by side")).to_be_visible()
    expect(status.locator(".style-column")).to_have_count(2)
    result = Submission.objects.filter(user=alice, status="passed").latest("created_at").result
    for style, summary in result["styles"].items():
        column = _column(status, style.capitalize())
        expect(column.locator(".badge")).to_have_text("passed")
        facts = column.locator(".style-facts")
        expect(
            facts.locator("dt", has_text="Messages between services").locator("+ dd")
        ).to_have_text(str(summary["messages"]))
        expect(facts.locator("dt", has_text="Hops per order").locator("+ dd")).to_contain_text(
            str(summary["hops_per_order"])
        )
        expect(facts.locator("dt", has_text="Saga logic in").locator("+ dd")).to_have_text(
            ", ".join(summary["logic_in"])
        )
        region = page.get_by_role("region", name=f"Timeline of the calm run by {style}")
        expect(region.locator("svg.timeline:visible")).to_be_visible()
    # Choreography spreads the decisions over every service; orchestration keeps them in Order.
    expect(_column(status, "Choreography").locator(".style-facts")).to_contain_text(
        "order, inventory, payment"
    )
    logic = _column(status, "Orchestration").locator("dt", has_text="Saga logic in")
    expect(logic.locator("+ dd")).to_have_text("order")
