"""Browser journeys: a whole Quick Test taken anonymously with htmx, kept after
signing up and reviewed question by question; an ordering question that keeps
its order on an error and is reordered by keyboard and by drag, at desktop and
phone sizes; and the same questions answered with JavaScript switched off."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from lessons.models import QuizAttempt
from tests.test_quick_test import make_bank, put_first

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def bank(transactional_db):
    # allauth's sign-up rate limit lives in the cache, which outlives a test.
    cache.clear()
    make_bank()


def ordering_list(page):
    return page.locator("#quiz-region ol.ordering")


def shown_order(page) -> list[str]:
    """The item texts in the order the reorderable list shows them."""
    return ordering_list(page).locator("li > label").all_inner_texts()


def item(page, text):
    return ordering_list(page).locator("li", has=page.locator("label", has_text=text))


def arrange_by_keyboard(page, target: list[str]) -> None:
    """Put the items in `target` order with each item's Up button and the Enter key;
    focus stays on the button as its item moves."""
    # htmx moves focus to the new question when it settles: let it, then take over.
    expect(page.locator("form.question :focus")).to_have_count(1)
    for place, text in enumerate(target):
        steps = shown_order(page).index(text) - place
        if steps <= 0:
            continue
        item(page, text).get_by_role("button", name=re.compile(r"up$")).focus()
        for _ in range(steps):
            page.keyboard.press("Enter")
        expect(ordering_list(page).locator("li > label").nth(place)).to_have_text(text)
    assert shown_order(page) == target


def arrange_by_drag(page, target: list[str]) -> None:
    """Put the items in `target` order by dragging each one's handle above the item in its place."""
    for place, text in enumerate(target):
        if shown_order(page)[place] == text:
            continue
        here = ordering_list(page).locator("li").nth(place)
        item(page, text).locator(".drag-handle").drag_to(here, target_position={"x": 10, "y": 3})
        expect(ordering_list(page).locator("li > label").nth(place)).to_have_text(text)
    assert shown_order(page) == target


def give_answer(page, attempt, right, js=True):
    attempt = QuizAttempt.objects.get(pk=attempt.pk)
    question = attempt.current_question()
    if question.type == "ordering":
        layout = attempt.layouts[question.key]
        positions = [index + 1 for index in layout]
        if js:
            expect(ordering_list(page)).to_have_class(re.compile("reorderable"))
            arrange_by_keyboard(page, question.items if right else question.items[::-1])
        else:
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


def expect_every_question_reviewed(page, attempt):
    attempt = QuizAttempt.objects.get(pk=attempt.pk)
    review = page.get_by_role("region", name="Review every question")
    for number, question in enumerate(attempt.questions(), start=1):
        entry = review.locator(f"#question-{number}")
        expect(entry).to_contain_text(question.prompt)
        expect(entry).to_contain_text("Your answer")
        expect(entry).to_contain_text("The right answer")
        expect(entry).to_contain_text(question.explanation)
    lessons = page.locator(".review-list > li > a")
    hrefs = lessons.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert hrefs and len(hrefs) == len(set(hrefs))


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
    expect_every_question_reviewed(page, attempt)
    expect(page.get_by_role("button", name="Retake the test")).to_be_visible()

    page.locator("main").get_by_role("link", name="Sign up").click()
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", "a-long-secret-phrase-1")
    page.fill("input[name=password2]", "a-long-secret-phrase-1")
    page.get_by_role("button", name="Sign up").click()
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

    question = give_answer(page, attempt, right=True, js=False)
    expect(page).to_have_url(re.compile(rf"/quick-test/{attempt.pk}/\?answered=1$"))
    expect(page.locator(".feedback")).to_contain_text("Right!")
    expect(page.locator(".feedback")).to_contain_text(question.explanation)
    assert attempt.answers.get().score == 1.0

    page.get_by_role("link", name="Next question").click()
    expect(page.locator("#quiz-region")).to_contain_text("Question 2 of 10")
    give_answer(page, attempt, right=False, js=False)
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


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_ordering_error_keeps_the_order_then_keyboard_and_drag_reorder_and_every_question_is_reviewed(
    page, bank, viewport
):
    page.set_viewport_size(viewport)
    page.goto("/quick-test/")
    page.get_by_role("button", name="Start the test").click()
    # The started test's page has loaded (a reload before then races the form's navigation).
    expect(page.locator("#quiz-region")).to_contain_text("Question 1 of 10")
    attempt = QuizAttempt.objects.get()
    put_first(attempt, "outbox-ordering", "sagas-multiple", "retries-ordering", layout=(2, 0, 3, 1))
    page.reload()
    region = page.locator("#quiz-region")
    expect(region).to_contain_text("Question 1 of 10")
    expect(ordering_list(page)).to_have_class(re.compile("reorderable"))
    assert shown_order(page) == ["Third step", "First step", "Fourth step", "Second step"]
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # By keyboard: Enter on an item's Up button, then Alt+Down on another item.
    up = item(page, "First step").get_by_role("button", name=re.compile(r"up$"))
    up.focus()
    page.keyboard.press("Enter")
    expect(up).to_be_focused()
    expect(page.locator(".ordering-status")).to_contain_text("First step: position 1 of 4")
    item(page, "Third step").get_by_role("button", name=re.compile(r"down$")).focus()
    page.keyboard.press("Alt+ArrowDown")
    arranged = ["First step", "Fourth step", "Third step", "Second step"]
    assert shown_order(page) == arranged

    # A request the server refuses (a tampered extra field): the error sits in the form,
    # the learner's order is kept.
    page.evaluate(
        """() => { const extra = document.createElement('input');
        extra.type = 'hidden'; extra.name = 'position-9'; extra.value = '5';
        document.querySelector('form.question').append(extra); }"""
    )
    page.get_by_role("button", name="Check answer").click()
    error = page.locator("form.question .question-error")
    expect(error).to_contain_text("Give a position to each of the 4 items")
    expect(region).to_contain_text("Question 1 of 10")
    expect(ordering_list(page)).to_have_class(re.compile("reorderable"))
    assert shown_order(page) == arranged
    expect(page.locator(".messages")).to_have_count(0)
    assert not attempt.answers.exists()

    arrange_by_keyboard(page, ["First step", "Second step", "Third step", "Fourth step"])
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator(".feedback")).to_contain_text("Right!")
    expect(page.locator(".question-error")).to_have_count(0)

    # An empty multiple-select answer: the error is beside question 2 and gone afterwards.
    page.get_by_role("link", name="Next question").click()
    expect(region).to_contain_text("Question 2 of 10")
    expect(page.locator(".question-error")).to_have_count(0)
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator("form.question .question-error")).to_contain_text(
        "Choose at least one option"
    )
    give_answer(page, attempt, right=True)
    expect(page.locator(".feedback")).to_contain_text("Right!")
    page.get_by_role("link", name="Next question").click()

    # By drag, on the second ordering question.
    expect(region).to_contain_text("Question 3 of 10")
    expect(page.locator(".question-error")).to_have_count(0)
    expect(ordering_list(page)).to_have_class(re.compile("reorderable"))
    arrange_by_drag(page, ["First step", "Second step", "Third step", "Fourth step"])
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator(".feedback")).to_contain_text("Right!")

    for number in range(4, 11):
        page.get_by_role("link", name="Next question").click()
        expect(region).to_contain_text(f"Question {number} of 10")
        give_answer(page, attempt, right=number % 2 == 0)
        expect(page.locator(".feedback")).to_be_visible()
    page.get_by_role("link", name="See your result").click()
    expect(page.locator(".quiz-score")).to_contain_text("7 / 10")
    expect_every_question_reviewed(page, attempt)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_without_javascript_an_ordering_error_keeps_the_chosen_positions(js_disabled_page, bank):
    page = js_disabled_page
    page.goto("/quick-test/")
    page.get_by_role("button", name="Start the test").click()
    # The started test's page has loaded (a reload before then races the form's navigation).
    expect(page.locator("#quiz-region")).to_contain_text("Question 1 of 10")
    attempt = QuizAttempt.objects.get()
    put_first(attempt, "outbox-ordering", layout=(2, 0, 3, 1))
    page.reload()
    # Shown: Third, First, Fourth, Second; the learner gives position 2 twice.
    chosen = {"Third step": "3", "First step": "2", "Fourth step": "4", "Second step": "2"}
    for text, position in chosen.items():
        page.get_by_label(text).select_option(position)
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator("form.question .question-error")).to_contain_text(
        "Two items were given position 2"
    )
    for text, position in chosen.items():
        expect(page.get_by_label(text)).to_have_value(position)
    page.get_by_label("First step").select_option("1")
    page.get_by_role("button", name="Check answer").click()
    expect(page.locator(".feedback")).to_contain_text("Right!")
    page.get_by_role("link", name="Next question").click()
    expect(page.locator("#quiz-region")).to_contain_text("Question 2 of 10")
    expect(page.locator(".question-error")).to_have_count(0)
