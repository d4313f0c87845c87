"""The real Quick Test question bank (quicktest/questions/*.yaml) loads
against the real lessons and is big and varied enough to draw tests from."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from courseapp.lib.content import LoadReport
from courseapp.lib.modules import TOPICS
from lessons.lessons_loader import CONTENT_DIR as LESSONS_DIR
from lessons.models import Lesson, Question, QuizAttempt
from quicktest import attempts as quiz
from quicktest.loader import CONTENT_DIR as QUESTIONS_DIR
from quicktest.loader import load_questions

TYPES = {value for value, _ in Question.TYPES}
OUTLINE = Path(settings.BASE_DIR) / "docs" / "course-outline.md"


def outline_exercise_slugs() -> set[str]:
    """Exercise slugs from the course outline, so lessons load without the exercise content."""
    text = OUTLINE.read_text(encoding="utf-8").split("## Exercises", 1)[1].split("##", 1)[0]
    return set(re.findall(r"^\| ([a-z0-9-]+) \|", text, re.M)) - {"slug"}


@pytest.fixture
def report(db) -> LoadReport:
    from lessons.lessons_loader import load_lessons

    report = LoadReport()
    lessons = load_lessons(LESSONS_DIR, outline_exercise_slugs(), report)
    load_questions(QUESTIONS_DIR, lessons, report)
    return report


def test_the_bank_has_at_least_forty_questions(report):
    assert report.counts["questions"]["total"] >= 40
    assert Question.objects.active().count() == report.counts["questions"]["total"]


def test_every_topic_is_covered(report):
    assert set(report.counts["questions"]["by_topic"]) == set(TOPICS)
    assert {path.stem for path in (QUESTIONS_DIR).glob("*.yaml")} == set(TOPICS)


def test_every_question_type_is_present(report):
    by_type = report.counts["questions"]["by_type"]
    assert set(by_type) == TYPES and all(count >= 2 for count in by_type.values())


def test_every_topic_can_give_two_questions_to_a_test(report):
    assert min(report.counts["questions"]["by_topic"].values()) >= quiz.MAX_PER_TOPIC


def test_every_question_links_to_a_section_of_its_lesson(report):
    for question in Question.objects.select_related("lesson"):
        assert question.lesson and question.section_title(), question.key
        assert question.lesson_url().startswith(f"/lessons/{question.lesson.slug}/#")


def test_single_choice_answers_are_not_always_in_the_same_place(report):
    positions = Counter(
        Question.objects.filter(type__in=["single", "spotbug"]).values_list("answer", flat=True)
    )
    assert len(positions) >= 3 and max(positions.values()) <= 0.5 * sum(positions.values())


def test_draws_from_the_real_bank_are_balanced(report):
    bank = list(Question.objects.active())
    for seed in range(20):
        drawn = quiz.draw(bank, random.Random(seed))
        assert len(drawn) == quiz.QUESTIONS_PER_TEST
        assert max(Counter(q.topic for q in drawn).values()) <= quiz.MAX_PER_TOPIC
        assert len({q.type for q in drawn}) >= 4


def test_loading_the_bank_twice_changes_nothing(report):
    again = LoadReport()
    load_questions(QUESTIONS_DIR, {lesson.slug: lesson for lesson in Lesson.objects.all()}, again)
    assert again.added == {} and again.changed == {} and again.removed == {}


def test_no_real_question_page_carries_its_answer_or_explanation(report, client):
    from django.urls import reverse
    from django.utils.html import escape

    client.post(reverse("quiz:new"))
    attempt = QuizAttempt.objects.get()
    for question in Question.objects.active():
        QuizAttempt.objects.filter(pk=attempt.pk).update(
            question_keys=[question.key],
            layouts={question.key: quiz.shuffled_layout(len(question.items), random.Random(1))},
        )
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        assert "Question 1 of 1" in html, question.key
        assert question.explanation not in html and "data-answer" not in html, question.key
        assert not re.search(r"<(input|option)[^>]*\b(checked|selected)\b", html), question.key
        if question.type == Question.ORDERING:
            shown = [html.index(f">{escape(item)}</label>") for item in question.items]
            assert shown != sorted(shown), question.key


def test_load_content_loads_the_question_bank_with_the_lessons(content):
    assert Question.objects.active().count() >= 40
    assert not Question.objects.filter(lesson=None).exists()
