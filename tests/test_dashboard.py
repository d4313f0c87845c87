"""The dashboard: titles rather than slugs, bars that say what they count, a chart that draws."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from courseapp.lib.charts import HEIGHT, WIDTH, score_chart_svg
from courseapp.lib.modules import MODULES, TOPICS
from exercises.models import Exercise, Submission
from lessons.models import Lesson, LessonProgress, Question, QuizAnswer, QuizAttempt

pytestmark = pytest.mark.django_db


def _finished_attempt(user, topic: str, right: bool) -> QuizAttempt:
    question = Question.objects.filter(topic=topic).first()
    attempt = QuizAttempt.objects.create(
        user=user, question_keys=[question.key], finished_at=timezone.now()
    )
    QuizAnswer.objects.create(attempt=attempt, question=question, given=[], score=float(right))
    return attempt


def test_best_scores_are_listed_by_topic_title_not_slug(alice_client, alice, content):
    _finished_attempt(alice, "consumers", right=False)
    _finished_attempt(alice, "two-phase-commit", right=True)
    html = alice_client.get("/dashboard/").content.decode()
    best = html.split("Best score per topic", 1)[1].split("</ul>", 1)[0]
    assert f"<li>{TOPICS['consumers']}: 0%</li>" in best
    assert f"<li>{TOPICS['two-phase-commit']}: 100%</li>" in best
    assert "<li>consumers:" not in best and "<li>two-phase-commit:" not in best
    # In the course's order of topics.
    assert best.index(TOPICS["consumers"]) < best.index(TOPICS["two-phase-commit"])


def test_each_module_bar_says_what_it_counts(alice_client, alice, content):
    exercise = Exercise.objects.published().get(slug="idempotent-consumer")
    lesson = Lesson.objects.filter(module=exercise.module).first()
    LessonProgress.objects.create(user=alice, lesson=lesson, completed_at=timezone.now())
    Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="p",
        status="passed",
    )
    lessons = Lesson.objects.filter(module=exercise.module).count()
    exercises = Exercise.objects.published().filter(module=exercise.module).count()
    html = alice_client.get("/dashboard/").content.decode()
    label = html.split(f'<label for="module-{exercise.module}">', 1)[1].split("</label>", 1)[0]
    assert f"Module {exercise.module}: {MODULES[exercise.module]}" in label
    assert f"1 of {lessons} lesson" in label and "completed" in label
    assert f"1 of {exercises} exercise" in label and "passed" in label
    bar = html.split(f'id="module-{exercise.module}"', 1)[1].split("</progress>", 1)[0]
    assert 'value="2"' in bar and f'max="{lessons + exercises}"' in bar
    assert "lessons completed and its exercises passed" in html


def _numbers(svg: str, attribute: str) -> list[float]:
    return [float(v) for v in re.findall(rf'\b{attribute}="(-?[\d.]+)"', svg)]


def test_one_attempt_is_a_dot_in_the_middle_with_its_score_written():
    svg = score_chart_svg([("01 Dec 10:00", 0.6)], "Quick Test score over time")
    (cx,) = _numbers(svg, "cx")
    assert abs(cx - WIDTH / 2) < WIDTH * 0.1  # not stuck on the axis
    assert ">60%</text>" in svg and ">1</text>" in svg and "<path" not in svg
    assert "attempt 1 (01 Dec 10:00): 60%" in svg


@pytest.mark.parametrize("count", [1, 2, 5, 12, 40])
def test_no_label_or_dot_leaves_the_picture(count):
    points = [(f"0{i % 9 + 1} Dec 10:00", (i % 5) / 4) for i in range(count)]
    svg = score_chart_svg(points, "Quick Test score over time")
    for x in _numbers(svg, "x") + _numbers(svg, "cx"):
        assert 0 <= x <= WIDTH
    for y in _numbers(svg, "y") + _numbers(svg, "cy"):
        assert 0 <= y <= HEIGHT
    # A text anchored in the middle needs half its width on each side (about 7 px a character).
    for x, text in re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="middle">([^<]*)<', svg):
        half = len(text) * 7 / 2
        assert float(x) - half >= 0 and float(x) + half <= WIDTH, text
    labels = re.findall(r'text-anchor="middle">(\d+)</text>', svg)
    assert labels[0] == "1" and labels[-1] == str(count)


def test_an_empty_history_draws_no_chart():
    assert score_chart_svg([], "x") == ""


def test_labels_under_the_axis_never_crowd_each_other():
    for count in range(1, 60):
        svg = score_chart_svg([("d", 0.5)] * count, "t")
        xs = [
            float(x)
            for x in re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle">\d+<', svg)
        ]
        assert all(b - a >= 30 for a, b in zip(xs, xs[1:])), count


# The dashboard is kept rendered by what it shows (courseapp/views.py): what must stay true -----


def _page(client) -> str:
    return client.get("/dashboard/").content.decode()


def _token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_two_learners_with_the_same_progress_each_see_their_own_page(alice, bob, content):
    from django.test import Client

    for user, other in ((alice, bob), (bob, alice), (alice, bob)):
        reader = Client()
        reader.force_login(user)
        html = _page(reader)
        assert user.email in html and other.email not in html


def test_what_the_learner_does_shows_at_once(alice_client, alice, content):
    exercise = Exercise.objects.published().first()
    _page(alice_client)
    submission = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="t",
        status="queued",
    )
    assert "Queued</span>" in _page(alice_client)
    Submission.objects.filter(pk=submission.pk).update(status="passed")  # as a worker does
    html = _page(alice_client)
    assert "Passed</span>" in html and "Queued</span>" not in html
    lesson = Lesson.objects.order_by("order").first()
    LessonProgress.objects.create(user=alice, lesson=lesson, completed_at=timezone.now())
    assert "Lessons completed: <strong>1 /" in _page(alice_client)


def test_a_content_edit_shows_at_once(alice_client, alice, content):
    lesson = Lesson.objects.order_by("order").first()
    assert f"Continue: {lesson.title}" in _page(alice_client)
    lesson.title = "Retitled just now"
    lesson.save()
    assert "Continue: Retitled just now" in _page(alice_client)


def test_each_response_carries_a_token_for_its_own_session(alice, bob, content):
    from django.test import Client

    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first.force_login(alice)
    second.force_login(bob)
    pages = [_page(reader) for reader in (first, first, second)]
    tokens = [_token(page) for page in pages]
    assert len(set(tokens)) == 3 and "csrf-stand-in" not in "".join(pages)
    assert all(f'"X-CSRFToken": "{token}"' in page for token, page in zip(tokens, pages))
    response = second.post("/accounts/logout/", {"csrfmiddlewaretoken": tokens[2]})
    assert response.status_code == 302
    assert bob.email not in _page(second) and alice.email in _page(first)


def test_a_message_is_shown_once(client, alice, password, content):
    client.post("/accounts/login/", {"login": alice.email, "password": password})
    first, second = _page(client), _page(client)
    assert 'class="messages"' in first and f"You are logged in as {alice.email}" in first
    assert 'class="messages"' not in second and alice.email in second
