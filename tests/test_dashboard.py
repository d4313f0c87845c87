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
