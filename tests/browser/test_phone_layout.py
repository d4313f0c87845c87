"""Every main page fits a phone: at 390x844 nothing scrolls sideways. Code blocks,
traces, tables and diagrams scroll inside their own box instead.

Each test opens its pages, measures `document.documentElement.scrollWidth` against
`window.innerWidth`, and fails once at the end naming every page that is too wide and
the elements that stick out. Set PHONE_SCREENSHOTS=<dir> to save a full-page
screenshot of each page there (for a person to look at; never committed).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.http import QueryDict
from django.test import Client, RequestFactory

from courseapp.errors import outage_response
from exercises import grading
from exercises.models import Exercise, GradingRequest, Submission
from exercises.replays import request_replay, run_replay
from lessons.models import Lesson, Question, QuizAttempt
from quicktest import attempts as quiz
from teach import authoring
from teach import tasks as teach_tasks
from tests.conftest import need

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SHOTS = os.environ.get("PHONE_SCREENSHOTS", "")

# The elements wider than the window that no scrolling box of theirs contains,
# innermost first: the ones to fix.
MEASURE = """() => {
  const width = window.innerWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map((c) => '.' + c).join('');
  const wide = [...document.body.querySelectorAll('*')].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 0.5 && !clipped(el);
  });
  const innermost = wide.filter((el) => !wide.some((other) => other !== el && el.contains(other)));
  innermost.sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right);
  const culprits = [];
  for (const el of innermost) {
    const path = [];
    for (let p = el; p && p !== document.body && path.length < 4; p = p.parentElement) {
      path.unshift(name(p));
    }
    const said = path.join(' > ') + ' (' + Math.round(el.getBoundingClientRect().right) + 'px)';
    if (!culprits.includes(said)) culprits.push(said);
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    culprits: culprits.slice(0, 4),
  };
}"""


class Fit:
    """Collects the pages that scroll sideways; `assert_all_fit` fails naming each one."""

    def __init__(self, page):
        self.page = page
        self.checked: list[str] = []
        self.too_wide: list[str] = []

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        found = self.page.evaluate(MEASURE)
        self.checked.append(name)
        if found["scrollWidth"] > found["innerWidth"]:
            self.too_wide.append(
                f"{name} ({self.page.url}): {found['scrollWidth']}px wide in a "
                f"{found['innerWidth']}px window; sticking out: {'; '.join(found['culprits'])}"
            )
        if SHOTS:
            width = self.page.viewport_size["width"]
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=f"{SHOTS}/{width}-{slug}.png", full_page=True, timeout=60_000)

    def open(self, url: str, name: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status < 400, f"{name}: {url} answered {response}"
        self.check(name)

    def assert_all_fit(self) -> None:
        assert self.checked, "no page was measured"
        assert not self.too_wide, "pages that scroll sideways:\n" + "\n".join(self.too_wide)


def _fit(page, size=PHONE) -> Fit:
    page.set_viewport_size(size)
    return Fit(page)


def _log_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


@pytest.fixture
def jail(settings):
    from courseapp.celery import app

    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = ""  # no worker serves these tests, even where CI has a broker
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 10
    settings.GRADING_BACKGROUND_THREADS = 0  # the tasks run in place: done when the call returns
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def _graded(user, exercise, code) -> Submission:
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=uuid.uuid4().hex,
    )
    GradingRequest.objects.create(submission=submission)
    grading.run_grading(submission.pk)
    submission.refresh_from_db()
    return submission


def _broken_variant(exercise) -> str:
    variants = exercise.published_version.variants
    assert variants, f"{exercise.slug} has no broken variant to submit"
    return next(iter(variants.values()))["source"]


# -- anonymous ------------------------------------------------------------------------------


def _run_playgrounds(page, fit: Fit, lesson: Lesson) -> None:
    """Each playground run with every pattern off and every fault on: a broken invariant,
    its timeline and its trace."""
    for panel in page.locator("section.playground").all():
        key = panel.get_attribute("id")
        for box in panel.locator("fieldset", has_text="Pattern").locator("input").all():
            box.uncheck()
        for box in panel.locator("fieldset", has_text="Faults").locator("input").all():
            box.check()
        panel.locator(f"#{key}-result .verdict").evaluate("(el) => el.dataset.before = 'run'")
        panel.get_by_role("button", name="Run the simulation").click()
        panel.locator(f"#{key}-result .verdict:not([data-before])").wait_for()
        for details in panel.locator(f"#{key}-result details").all():
            details.evaluate("(el) => { el.open = true; }")
        fit.check(f"lesson {lesson.slug}, {key} broken by every fault")


def test_every_anonymous_page_fits_a_phone(page, live_server, content):
    fit = _fit(page)
    fit.open("/", "home")
    fit.open("/lessons/", "lesson list")
    for lesson in Lesson.objects.all():
        fit.open(lesson.get_absolute_url(), f"lesson {lesson.slug}")
        page.locator(".self-check details").evaluate_all(
            "(all) => all.forEach((el) => { el.open = true; })"
        )
        fit.check(f"lesson {lesson.slug} with its self-check open")
        _run_playgrounds(page, fit, lesson)
    fit.open("/exercises/", "exercise list")
    for exercise in Exercise.objects.published():
        fit.open(exercise.get_absolute_url(), f"exercise {exercise.slug}")
    fit.open("/quick-test/", "Quick Test start")
    fit.open("/accounts/login/", "log in")
    fit.open("/accounts/signup/", "sign up")
    fit.open("/accounts/password/reset/", "password reset")
    fit.assert_all_fit()


def test_the_outage_page_fits_a_phone(page, live_server, content):
    """The 503 page, as a refused submission shows it: with the learner's code handed back."""
    code = "def on_payment_captured(event, ctx):\n" + "    " + "x = 1; " * 40 + "\n"
    request = RequestFactory().post(
        "/exercises/idempotent-consumer/submit/", {"code": code, "client_token": "t"}
    )
    request.saga_outage = "database"
    body = outage_response(request, "database").content.decode()
    page.route(
        "**/outage/",
        lambda route: route.fulfill(status=503, body=body, content_type="text/html"),
    )
    fit = _fit(page)
    page.goto("/outage/")
    fit.check("503 page with the code handed back")
    fit.assert_all_fit()


def _answer_data(question: Question, layout, right: bool) -> QueryDict:
    data = QueryDict(mutable=True)
    if question.type == Question.ORDERING:
        size = len(question.items)
        order = list(range(size)) if right else list(range(size))[::-1]
        for shown, item in enumerate(layout):
            data[f"position-{shown}"] = str(order.index(item) + 1)
    elif question.type == Question.TRUEFALSE:
        data["choice"] = "true" if question.answer == right else "false"
    elif question.type == Question.MULTIPLE:
        data.setlist("choice", [str(i) for i in (question.answer if right else [0, 1])])
    else:
        wrong = (question.answer + 1) % len(question.choices)
        data["choice"] = str(question.answer if right else wrong)
    return data


def _finished_attempt(user, right: bool) -> QuizAttempt:
    """A finished Quick Test of a few questions, all right or all wrong (for the dashboard)."""
    questions = list(Question.objects.active().exclude(type=Question.ORDERING)[:4])
    attempt = QuizAttempt.objects.create(user=user, question_keys=[q.key for q in questions])
    for question in questions:
        quiz.submit(attempt, question.key, _answer_data(question, None, right))
    return attempt


def test_every_quick_test_question_its_feedback_and_the_result_fit_a_phone(
    page, live_server, content
):
    """A test of every question in the bank (spot-the-bug code, ordering lists and all)."""
    fit = _fit(page)
    fit.open("/quick-test/", "Quick Test start")
    page.get_by_role("button", name=re.compile("Start the test")).click()
    page.wait_for_url(re.compile(r"/quick-test/\d+/$"))
    attempt = QuizAttempt.objects.get()
    questions = list(Question.objects.active().order_by("-type", "key"))
    attempt.question_keys = [question.key for question in questions]
    attempt.layouts = {
        question.key: list(range(len(question.items)))[::-1]
        for question in questions
        if question.type == Question.ORDERING
    }
    attempt.save()
    for number, question in enumerate(questions, start=1):
        fit.open(f"/quick-test/{attempt.pk}/", f"question {question.key} ({question.type})")
        data = _answer_data(question, attempt.layouts.get(question.key), right=number % 2 == 0)
        quiz.submit(attempt, question.key, data)
        fit.open(
            f"/quick-test/{attempt.pk}/?answered={number}",
            f"feedback on {question.key} ({question.type})",
        )
    fit.open(f"/quick-test/{attempt.pk}/result/", "Quick Test result")
    fit.assert_all_fit()


# -- signed in ------------------------------------------------------------------------------


def test_a_learners_pages_with_verdicts_traces_and_history_fit_a_phone(
    page, live_server, content, alice, jail
):
    _log_in(page, live_server, alice)
    fit = _fit(page)
    fit.open("/dashboard/", "dashboard before any work")
    for exercise in Exercise.objects.published():
        failed = _graded(alice, exercise, _broken_variant(exercise))
        assert failed.is_done, f"{exercise.slug}: {failed.status} {failed.result}"
        fit.open(exercise.get_absolute_url(), f"exercise {exercise.slug} with a failed verdict")
        page.locator(".submission-status details").evaluate_all(
            "(all) => all.forEach((el) => { el.open = true; })"
        )
        fit.check(f"exercise {exercise.slug} with the trace table open")
        fit.open(failed.get_absolute_url(), f"submission of {exercise.slug}")

    exercise = Exercise.objects.get(slug="idempotent-consumer")
    version = exercise.published_version
    failed = Submission.objects.filter(user=alice, exercise=exercise).first()
    replay, _ = request_replay(failed)
    run_replay(replay.pk)
    fit.open(replay.get_absolute_url(), "replay page")
    page.locator(".replay-result details").evaluate_all(
        "(all) => all.forEach((el) => { el.open = true; })"
    )
    fit.check("replay page with the trace table open")

    _graded(alice, exercise, version.starter)
    passed = _graded(alice, exercise, version.solution)
    assert passed.result_data["status"] == "passed", passed.result
    fit.open(exercise.get_absolute_url(), "exercise with a passed verdict")
    page.locator("details").evaluate_all("(all) => all.forEach((el) => { el.open = true; })")
    fit.check("exercise with a passed verdict, the reference solution open")
    fit.open(f"/exercises/{exercise.slug}/history/", "history")
    page.locator("details").evaluate_all("(all) => all.forEach((el) => { el.open = true; })")
    fit.check("history with every diff open")

    for right in (False, True):
        _finished_attempt(alice, right)
    fit.open("/exercises/", "exercise list with progress")
    fit.open("/dashboard/", "dashboard with progress and Quick Test scores")
    fit.open("/accounts/password/change/", "change password")
    fit.open("/accounts/email/", "e-mail addresses")
    fit.open("/account/delete/", "delete account")
    fit.assert_all_fit()


def test_the_instructor_pages_fit_a_phone(page, live_server, content, django_user_model, jail):
    teacher = django_user_model.objects.create_user(
        username="teacher", email="teacher@example.com", password="a-long-secret-phrase-1"
    )
    authoring.make_instructor(teacher)
    _log_in(page, live_server, teacher)
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    version = exercise.published_version
    teach_tasks.request_validation(version, teacher)
    version.refresh_from_db()
    assert (version.validation or {}).get("status") in ("passed", "failed"), version.validation

    fit = _fit(page)
    fit.open("/teach/", "instructor index")
    fit.open("/teach/exercises/new/", "new exercise form")
    fit.open(f"/teach/exercises/{exercise.slug}/", "instructor exercise page")
    fit.open(f"/teach/exercises/{exercise.slug}/edit/", "exercise edit form")
    fit.open(f"/teach/exercises/{exercise.slug}/v{version.number}/", "validated version")
    fit.open(f"/teach/exercises/{exercise.slug}/stats/", "exercise stats")
    fit.open("/teach/questions/", "question list")
    question = Question.objects.filter(type=Question.SPOTBUG).first()
    fit.open(f"/teach/questions/{question.key}/edit/", "spot-the-bug question edit form")
    fit.assert_all_fit()


# -- the desktop stays as it was --------------------------------------------------------------


def test_the_main_pages_still_fit_a_desktop(page, live_server, content):
    fit = _fit(page, DESKTOP)
    fit.open("/", "home")
    for lesson in Lesson.objects.all():
        fit.open(lesson.get_absolute_url(), f"lesson {lesson.slug}")
    for exercise in Exercise.objects.published():
        fit.open(exercise.get_absolute_url(), f"exercise {exercise.slug}")
    fit.open("/quick-test/", "Quick Test start")
    fit.assert_all_fit()
