"""The exercise editor is CodeMirror 6 from our own static files: it highlights Python,
numbers lines, indents, matches brackets, marks the line an error points at, lets
keyboard users leave with Escape then Tab, works under the site's CSP, and the plain
textarea still posts without JavaScript."""

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
from exercises.models import Exercise, Submission
from tests.conftest import need

CSP_WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


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
    yield Exercise.objects.get(slug="idempotent-consumer")
    cache.clear()


@pytest.fixture
def console_errors(page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.add_init_script(CSP_WATCH)
    return errors


def _open_as(page, live_server, user, url):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return page.goto(url)


def _type_lines(page, lines):
    """Types line by line as a learner would; the editor indents after a colon by itself."""
    for i, line in enumerate(lines):
        if i:
            page.keyboard.press("Enter")
        page.keyboard.type(line)


def _clear_editor(page):
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")


def test_the_editor_is_codemirror_styled_under_the_csp_with_no_violation(
    page, live_server, exercise, alice, console_errors
):
    response = _open_as(page, live_server, alice, exercise.get_absolute_url())
    assert "style-src 'self'" in response.headers["content-security-policy"]
    editor = page.locator(".code-editor .cm-editor")
    expect(editor).to_be_visible()
    expect(page.locator("textarea[name=code]")).to_be_hidden()
    expect(page.locator(".cm-content")).to_have_attribute("aria-label", "Your code")
    expect(page.locator(".cm-content")).to_have_attribute("aria-describedby", "editor-help")

    # Python highlighting and line numbers, on the starter code.
    expect(page.locator(".cm-content .tok-keyword", has_text="def").first).to_be_visible()
    expect(
        page.locator(".cm-lineNumbers .cm-gutterElement", has_text=re.compile(r"^1$"))
    ).to_be_visible()

    # Styled: CodeMirror's layout rules (a constructable stylesheet) and ours both apply.
    styles = page.evaluate(
        """() => {
          const editor = document.querySelector(".cm-editor");
          const keyword = document.querySelector(".cm-content .tok-keyword");
          const gutters = document.querySelector(".cm-gutters");
          return {
            display: getComputedStyle(editor).display,
            direction: getComputedStyle(editor).flexDirection,
            whiteSpace: getComputedStyle(document.querySelector(".cm-content")).whiteSpace,
            guttersDisplay: getComputedStyle(gutters).display,
            keyword: getComputedStyle(keyword).color,
            adopted: document.adoptedStyleSheets.length,
            styleElements: document.querySelectorAll("style").length,
          };
        }"""
    )
    assert styles["display"] == "flex" and styles["direction"] == "column"
    assert styles["whiteSpace"] == "pre"
    assert styles["guttersDisplay"] == "flex"
    assert styles["keyword"] == "rgb(111, 47, 191)"
    assert styles["adopted"] >= 1
    assert styles["styleElements"] == 0
    assert page.evaluate("window.cspViolations") == []
    assert not [e for e in console_errors if "Content Security Policy" in e]


def test_a_learner_types_in_the_editor_submits_and_reads_the_verdict(
    page, live_server, exercise, alice, eager_grading, console_errors
):
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    _clear_editor(page)
    _type_lines(page, ["def on_payment_captured(event, ctx):", "pass"])
    code = "def on_payment_captured(event, ctx):\n    pass"
    # The hidden textarea follows the editor, and so does any FormData built from the form.
    expect(page.locator("textarea[name=code]")).to_have_value(code)
    posted = page.evaluate(
        "() => new FormData(document.querySelector('form.submit-form')).get('code')"
    )
    assert posted == code

    # Bracket matching: the cursor after "(" shows both brackets.
    page.keyboard.press("Control+Home")
    for _ in range(len("def on_payment_captured(")):
        page.keyboard.press("ArrowRight")
    expect(page.locator(".cm-matchingBracket")).to_have_count(2)

    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Failed", timeout=30_000
    )
    expect(page.locator(".invariants")).to_contain_text("No lost event")
    assert Submission.objects.get(user=alice).code == code
    # The page came back with the submitted code in the editor.
    expect(page.locator(".cm-content")).to_contain_text("def on_payment_captured(event, ctx):")
    expect(page.locator(".cm-error-line")).to_have_count(0)
    assert page.evaluate("window.cspViolations") == []


def test_a_syntax_error_marks_its_line_in_the_editor(
    page, live_server, exercise, alice, eager_grading
):
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    _clear_editor(page)
    _type_lines(page, ["def on_payment_captured(event, ctx):", "seen = 1", "return = seen"])
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Error", timeout=30_000
    )
    expect(page.locator(".verdict-message")).to_contain_text("line 3")
    marked = page.locator(".cm-content .cm-error-line")
    expect(marked).to_have_count(1)
    expect(marked).to_have_text("    return = seen")
    expect(page.locator(".cm-lineNumbers .cm-error-gutter")).to_have_text("3")


def test_a_verdict_swapped_in_by_htmx_marks_the_line_and_the_mark_follows_edits(
    page, live_server, exercise, alice
):
    Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\ny = (\n",
        client_token="poll-editor",
        status="running",
    )
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    expect(page.locator(".submission-status")).to_contain_text("being graded")
    expect(page.locator(".cm-error-line")).to_have_count(0)
    Submission.objects.filter(client_token="poll-editor").update(
        status="error",
        result={
            "status": "error",
            "message": "SyntaxError on line 2: '(' was never closed (y = ()",
            "invariants": [],
            "schedules_explored": 0,
        },
    )
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Error", timeout=30_000
    )
    marked = page.locator(".cm-content .cm-error-line")
    expect(marked).to_have_text("y = (")
    expect(page.locator(".cm-lineNumbers .cm-error-gutter")).to_have_text("2")

    # A line added above moves the mark with the code it points at.
    page.locator(".cm-content .cm-line").first.click()
    page.keyboard.press("Home")
    page.keyboard.type("import json")
    page.keyboard.press("Enter")
    expect(marked).to_have_text("y = (")
    expect(page.locator(".cm-lineNumbers .cm-error-gutter")).to_have_text("3")


def test_tab_indents_and_escape_then_tab_leaves_the_editor(page, live_server, exercise, alice):
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    textarea = page.locator("textarea[name=code]")
    _clear_editor(page)
    page.keyboard.type("x = 1")
    page.keyboard.press("Home")
    page.keyboard.press("Tab")
    expect(textarea).to_have_value("    x = 1")
    page.keyboard.press("Shift+Tab")
    expect(textarea).to_have_value("x = 1")
    _clear_editor(page)
    _type_lines(page, ["def f():", "return 1"])
    expect(textarea).to_have_value("def f():\n    return 1")
    expect(page.locator(".cm-content")).to_be_focused()

    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.locator(".cm-content")).not_to_be_focused()
    expect(page.locator("#upload")).to_be_focused()
    expect(textarea).to_have_value("def f():\n    return 1")

    # Back in with Shift+Tab, and Tab indents again (the escape is spent).
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".cm-content")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    expect(textarea).to_have_value("def f():\n    return 1    ")


def test_the_label_focuses_the_editor(page, live_server, exercise, alice):
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    page.get_by_text("Your code", exact=True).click()
    expect(page.locator(".cm-content")).to_be_focused()


def test_without_javascript_the_plain_textarea_posts(
    js_disabled_page, live_server, exercise, alice, eager_grading
):
    page = js_disabled_page
    _open_as(page, live_server, alice, exercise.get_absolute_url())
    expect(page.locator(".cm-editor")).to_have_count(0)
    textarea = page.locator("textarea[name=code]")
    expect(textarea).to_be_visible()
    textarea.fill("def on_payment_captured(event, ctx):\n    return None\n")
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator(".submission-status .verdict-title .badge")).to_have_text(
        "Failed", timeout=30_000
    )
    assert Submission.objects.get(user=alice).code.endswith("    return None\n")
