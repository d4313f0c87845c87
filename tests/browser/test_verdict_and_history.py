"""Verdicts that read at a glance and a history to work from, in Chromium at desktop and phone size.

The verdicts are real reports of the simulator (graded here in-process, no worker needed): the
timeline draws every label whole inside its own box, highlights the steps of what broke and tells
its faults in the summary's words; an error shows the learner's line and checks no invariant. The
history is single-spaced and loads any version back into the editor, with and without JavaScript.
Set VERDICT_SCREENSHOTS=<dir> to save screenshots for a person to look at (never committed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission
from lessons.models import Question, QuizAnswer, QuizAttempt
from sandbox import grade

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
SHOTS = os.environ.get("VERDICT_SCREENSHOTS", "")

# Every line of every label, and every lane name, ends inside the drawing.
LABELS_INSIDE = """(svg) => {
  const width = svg.viewBox.baseVal.width;
  const out = [];
  for (const t of svg.querySelectorAll('tspan, text.tl-lane-name')) {
    const box = t.getBBox();
    if (box.x < 0 || box.x + box.width > width + 0.5) out.push(t.textContent);
  }
  return {outside: out, drawn: svg.querySelectorAll('tspan').length};
}"""


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


def _submission(user, exercise, code, result, token, *, days_ago=0):
    item = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=token,
        status=result["status"],
        result={**result, "jailed": True},
    )
    if days_ago:
        Submission.objects.filter(pk=item.pk).update(
            created_at=item.created_at - timezone.timedelta(days=days_ago)
        )
    return item


def _shot(page, name, part=None):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
        if part is not None:
            part.screenshot(path=str(Path(SHOTS) / f"{name}-part.png"))


def _starter(scenario):
    return (ROOT / "sandbox" / "scenarios" / scenario / "starter.py").read_text()


@SIZES
def test_a_failed_verdict_reads_at_a_glance(page, live_server, exercise, alice, size):
    page.set_viewport_size(size)
    code = _starter("idempotent_consumer")
    report = grade("idempotent_consumer", code, random_schedules=0)
    item = _submission(alice, exercise, code, report, "fail")
    _login(page, live_server, alice, item.get_absolute_url())

    verdict = page.locator(".verdict")
    expect(verdict.locator(".verdict-title .badge")).to_have_text("Failed")
    expect(verdict.locator(".invariants .badge.broken")).to_have_count(1)
    wrap = verdict.locator(".timeline-wrap").last
    svg = wrap.locator("svg.timeline:visible")
    expect(svg).to_be_visible()
    # One drawing shows: words beside the lanes on a desktop, above each step on a phone.
    expect(wrap.locator("svg.timeline")).to_have_count(2)
    layout = "timeline-side" if size == DESKTOP else "timeline-stacked"
    assert layout in svg.get_attribute("class")

    # No label is cut: every line of every step, and every lane name, is inside the drawing.
    measured = svg.evaluate(LABELS_INSIDE)
    assert measured["outside"] == [] and measured["drawn"] >= len(report["counterexample"]["trace"])
    # The steps of the order that broke are highlighted, and the legend says which order that is.
    first_id = re.search(r"ord-[0-9a-f]+", report["violations"][0]["detail"]).group(0)
    assert svg.locator("g.tl-hit").count() > 0
    expect(svg.locator("text.tl-legend")).to_contain_text(first_id)
    # A delivery says which message it carries and what that message is about.
    labels = svg.evaluate(
        "(svg) => [...svg.querySelectorAll('text.tl-label')]"
        ".map((t) => [...t.querySelectorAll('tspan')].map((s) => s.textContent).join(' '))"
    )
    delivery = next(label for label in labels if label.startswith("deliver order"))
    assert re.search(r"\[message payment-\d+ \(order_id=ord-[0-9a-f]+\)\]$", delivery)

    # The timeline keeps its natural size (readable labels) and scrolls inside its own box,
    # which fits the window and can be reached with the keyboard.
    box = wrap.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5
    natural = float(svg.get_attribute("width"))
    assert abs(svg.bounding_box()["width"] - natural) < 1
    label_px = svg.locator("text.tl-label").first.evaluate(
        "(t) => parseFloat(getComputedStyle(t).fontSize)"
    )
    assert label_px >= 12
    assert wrap.get_attribute("tabindex") == "0"
    _shot(page, f"verdict-failed-{size['width']}", wrap)
    if natural > box["width"]:
        wrap.focus()
        page.keyboard.press("ArrowRight")
        expect(wrap).to_be_focused()


@SIZES
def test_the_fault_line_says_what_the_summary_says(page, live_server, exercise, alice, size):
    page.set_viewport_size(size)
    code = _starter("idempotent_charge")
    report = grade("idempotent_charge", code, random_schedules=0)
    item = _submission(alice, exercise, code, report, "crash")
    _login(page, live_server, alice, item.get_absolute_url())
    faults = page.locator(".fault-line .fault")
    expect(faults.first).to_be_visible()
    summary = page.locator(".verdict-message").inner_text()
    for text in faults.all_inner_texts():
        assert text in summary
    expect(page.locator(".fault-line")).to_contain_text("after 1 effect(s)")
    expect(page.locator("main")).not_to_contain_text("before effect")
    _shot(page, f"verdict-crash-{size['width']}", page.locator(".verdict"))


@SIZES
def test_an_error_shows_the_learners_line_and_checks_no_invariant(
    page, live_server, exercise, alice, size
):
    page.set_viewport_size(size)
    code = "import json\n\ndef on_payment_captured(event, ctx)\n    pass\n"
    report = grade("idempotent_consumer", code, random_schedules=0)
    assert report["status"] == "error"
    item = _submission(alice, exercise, code, report, "syntax")
    _login(page, live_server, alice, exercise.get_absolute_url())
    status = page.locator(".submission-status")
    expect(status.locator(".verdict-title .badge")).to_have_text("Error")
    expect(status.locator(".error-excerpt .error-hit")).to_contain_text(
        "3 | def on_payment_captured(event, ctx)"
    )
    expect(status.locator(".verdict")).to_have_attribute("data-error-line", "3")
    expect(status.locator(".badge.held")).to_have_count(0)
    expect(status.locator(".badge.unchecked")).to_have_count(len(report["invariants"]))
    assert item.pk
    _shot(page, f"verdict-error-{size['width']}", status)


@SIZES
def test_history_is_single_spaced_and_loads_any_version_into_the_editor(
    page, live_server, exercise, alice, size
):
    page.set_viewport_size(size)
    failed = {"status": "failed", "message": "An invariant broke.", "invariants": []}
    old = _submission(alice, exercise, "a = 1\nb = 2\nc = 3\n", failed, "1", days_ago=2)
    _submission(alice, exercise, "a = 1\nb = 20\nc = 30\nd = 4\n", failed, "2")
    _login(page, live_server, alice, f"/exercises/{exercise.slug}/history/")

    lines = page.locator(".history-item details[open] pre.diff > span")
    expect(lines.first).to_be_visible()
    boxes = [lines.nth(i).bounding_box() for i in range(lines.count())]
    line_height = page.locator("pre.diff").first.evaluate(
        "(pre) => parseFloat(getComputedStyle(pre).lineHeight)"
    )
    for above, below in zip(boxes, boxes[1:]):
        assert below["y"] - above["y"] <= line_height + 1  # no empty line between two lines
    _shot(page, f"history-{size['width']}")

    page.locator(f'a[href$="?from={old.pk}"]').click()
    page.wait_for_url(re.compile(rf"\?from={old.pk}"))
    expect(page.locator("textarea[name=code]")).to_have_value("a = 1\nb = 2\nc = 3\n")
    expect(page.get_by_role("textbox", name="Your code")).to_contain_text("b = 2")
    expect(
        page.get_by_role("heading", name="The submission you loaded into the editor")
    ).to_be_visible()


def test_without_javascript_a_version_still_loads_into_the_editor(
    js_disabled_page, live_server, exercise, alice
):
    page = js_disabled_page
    failed = {"status": "failed", "message": "An invariant broke.", "invariants": []}
    old = _submission(alice, exercise, "# the old one\n", failed, "1", days_ago=1)
    _submission(alice, exercise, "# the new one\n", failed, "2")
    _login(page, live_server, alice, f"/exercises/{exercise.slug}/history/")
    page.locator(f'a[href$="?from={old.pk}"]').click()
    expect(page.locator("textarea[name=code]")).to_have_value("# the old one\n")


def test_compare_with_the_reference_once_it_is_revealed(page, live_server, exercise, alice):
    failed = {"status": "failed", "message": "An invariant broke.", "invariants": []}
    code = "def on_payment_captured(event, ctx):\n    pass\n"
    for i in range(exercise.published_version.reveal_after):
        _submission(alice, exercise, code, failed, f"f{i}", days_ago=i + 1)
    _login(page, live_server, alice, f"/exercises/{exercise.slug}/history/")
    compare = page.locator(".history-item").first.locator("details.solution-compare")
    compare.locator("summary").click()
    expect(compare.locator("pre.diff .del")).to_contain_text(["-    pass"])
    first_line = exercise.published_version.solution.splitlines()[0]
    expect(compare.locator("pre.diff")).to_contain_text(first_line)


@SIZES
def test_exercise_cards_show_status_difficulty_and_time(page, live_server, exercise, alice, size):
    page.set_viewport_size(size)
    failed = {"status": "failed", "message": "x", "invariants": []}
    _submission(alice, exercise, "x = 1\n", failed, "1")
    _login(page, live_server, alice, "/exercises/")
    card = page.locator(f".exercise-card[data-slug={exercise.slug}]")
    expect(card.locator(".card-facts")).to_contain_text("Attempted")
    expect(card.locator(".card-facts")).to_contain_text(exercise.get_difficulty_display())
    expect(card.locator(".card-facts")).to_contain_text(f"about {exercise.minutes} min")
    other = page.locator(".exercise-card[data-slug=two-phase-commit] .card-facts")
    expect(other).to_contain_text("Not started")
    _shot(page, f"cards-{size['width']}")


@SIZES
def test_the_dashboard_chart_draws_one_attempt_with_nothing_clipped(
    page, live_server, content, alice, size
):
    page.set_viewport_size(size)
    question = Question.objects.filter(topic="consumers").first()
    attempt = QuizAttempt.objects.create(
        user=alice, question_keys=[question.key], finished_at=timezone.now()
    )
    QuizAnswer.objects.create(attempt=attempt, question=question, given=[], score=1.0)
    _login(page, live_server, alice, "/dashboard/")
    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    outside = chart.evaluate(
        """(svg) => {
          const box = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('text, circle')].filter((el) => {
            const r = el.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5
              || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
          }).map((el) => el.textContent || el.tagName);
        }"""
    )
    assert outside == []
    dot = chart.locator("circle.dot").bounding_box()
    box = chart.bounding_box()
    assert abs((dot["x"] + dot["width"] / 2) - (box["x"] + box["width"] / 2)) < box["width"] * 0.1
    expect(page.locator(".module-progress")).to_contain_text("lessons completed")
    expect(page.locator("main")).to_contain_text("Idempotent consumers: 100%")
    _shot(page, f"dashboard-{size['width']}")
