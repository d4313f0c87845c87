"""Browser journeys: a whole Quick Test taken anonymously with htmx, kept after
signing up; and one question answered with JavaScript switched off."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from lessons.models import QuizAttempt
from tests.test_quick_test import make_bank


@pytest.fixture
def bank(transactional_db):
    # allauth's sign-up rate limit lives in the cache, which outlives a test.
    cache.clear()
    make_bank()


def give_answer(page, attempt, right):
    attempt = QuizAttempt.objects.get(pk=attempt.pk)
    question = attempt.current_question()
    if question.type == "ordering":
        layout = attempt.layouts[question.key]
        positions = [index + 1 for index in layout]
        for shown, position in enumerate(positions if right else positions[::-1]):
            page.get_by_label(question.items[layout[shown]]).select_option(str(position))
    elif question.type == "truefalse":
        value = question.answer if right else not question.answer
        page.get_by_label("True" if value else "False", exact=True).check()
    elif question.type == "multiple":
        for index in question.answer if right else [question.answer[0]]:
            page.get_by_label(question.choices[index], exact=True).check()
    else:
        index = question.answer if right else (question.answer + 1) % len(question.choices)
        page.get_by_label(question.choices[index], exact=True).check()
    page.get_by_role("button", name="Check answer").click()
    return question


def test_an_anonymous_learner_takes_the_test_then_signs_up_and_keeps_it(page, bank):
    page.goto("/quick-test/")
    expect(page.get_by_role("heading", name="Quick Test", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("exactly the right options")
    page.get_by_role("button", name="Start the test").click()

    attempt = QuizAttempt.objects.get()
    attempt_url = re.compile(rf"/quick-test/{attempt.pk}/$")
    expect(page).to_have_url(attempt_url)
    for number in range(1, 11):
        expect(page.locator("#quiz-region")).to_contain_text(f"Question {number} of 10")
        question = give_answer(page, attempt, right=number <= 7)
        feedback = page.locator(".feedback")
        expect(feedback).to_contain_text("Right!" if number <= 7 else "Not quite.")
        expect(feedback).to_contain_text(question.explanation)
        expect(
            feedback.get_by_role("link", name=re.compile(question.lesson.title))
        ).to_have_attribute("href", question.lesson_url())
        expect(page).to_have_url(attempt_url)  # swapped in place by htmx, no page load
        if number < 10:
            page.get_by_role("link", name="Next question").click()
    page.get_by_role("link", name="See your result").click()

    expect(page.locator(".quiz-score")).to_contain_text("7 / 10")
    expect(page.get_by_role("heading", name="Lessons to review")).to_be_visible()
    expect(page.get_by_role("button", name="Retake the test")).to_be_visible()

    page.locator("main").get_by_role("link", name="Sign up").click()
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", "a-long-secret-phrase-1")
    page.fill("input[name=password2]", "a-long-secret-phrase-1")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("erin@example.com")

    attempt.refresh_from_db()
    assert attempt.user is not None and attempt.user.email == "erin@example.com"
    assert attempt.is_finished and attempt.score() == (7.0, 10)
    assert QuizAttempt.objects.count() == 1

    page.goto("/dashboard/")
    expect(page.get_by_role("region", name="Quick Test attempts")).to_contain_text("7 / 10")

    # The learner can still open the result as their own.
    page.goto(f"/quick-test/{attempt.pk}/result/")
    expect(page.locator(".quiz-score")).to_contain_text("7 / 10")


def test_a_question_is_answered_with_plain_form_posts_without_javascript(js_disabled_page, bank):
    page = js_disabled_page
    page.goto("/quick-test/")
    page.get_by_role("button", name="Start the test").click()
    attempt = QuizAttempt.objects.get()
    expect(page.locator("#quiz-region")).to_contain_text("Question 1 of 10")

    question = give_answer(page, attempt, right=True)
    expect(page).to_have_url(re.compile(rf"/quick-test/{attempt.pk}/\?answered=1$"))
    expect(page.locator(".feedback")).to_contain_text("Right!")
    expect(page.locator(".feedback")).to_contain_text(question.explanation)
    assert attempt.answers.get().score == 1.0

    page.get_by_role("link", name="Next question").click()
    expect(page.locator("#quiz-region")).to_contain_text("Question 2 of 10")
    give_answer(page, attempt, right=False)
    expect(page.locator(".feedback")).to_contain_text("Not quite.")
    expect(page.locator(".feedback")).to_contain_text("The correct answer")


def test_a_refused_htmx_answer_shows_a_readable_page(page, bank):
    page.goto("/quick-test/")
    page.get_by_role("button", name="Start the test").click()
    attempt = QuizAttempt.objects.get()
    expect(page.locator("#quiz-region")).to_contain_text("Question 1 of 10")
    QuizAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - timedelta(hours=7))
    give_answer(page, attempt, right=True)
    expect(page.locator(".quiz-error")).to_contain_text("This test expired")
    expect(page.get_by_role("button", name="Start a new test")).to_be_visible()
    assert not attempt.answers.exists()
