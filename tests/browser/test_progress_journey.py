"""Browser journey: complete a lesson and a Quick Test anonymously, sign up,
and find both on the dashboard."""

import re

from playwright.sync_api import expect

from lessons.lessons_loader import CONTENT_DIR

LESSONS = len(list(CONTENT_DIR.glob("[0-9][0-9]-*.md")))


def _answer_current_question(page):
    form = page.locator("form.question")
    # An ordering question is a reorderable list (static/js/quick-test.js) that always holds an order.
    form.locator("ol.reorderable, input[name=choice]").first.wait_for()
    if not form.locator("ol.reorderable").count():
        form.locator("input[name=choice]").first.check()
    form.get_by_role("button").last.click()


def test_anonymous_work_follows_the_learner_into_a_new_account(page, content):
    page.goto("/lessons/idempotency-keys/")
    page.get_by_role("button", name="Mark lesson complete").click()
    expect(page.locator("#complete-region")).to_contain_text("Completed")

    page.goto("/quick-test/")
    page.get_by_role("button", name=re.compile("Start")).click()
    for _ in range(10):
        _answer_current_question(page)
        next_link = page.get_by_role("link", name=re.compile("Next question|See your result"))
        expect(next_link).to_be_visible()
        if "result" in next_link.inner_text().lower():
            next_link.click()
            break
        next_link.click()
    expect(page.locator("main")).to_contain_text(re.compile("score", re.I))

    page.goto("/dashboard/")
    expect(page.locator("main")).to_contain_text(f"Lessons completed: 1 / {LESSONS}")

    page.goto("/accounts/signup/?next=/dashboard/")
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", "a-long-secret-phrase-3")
    page.fill("input[name=password2]", "a-long-secret-phrase-3")
    page.get_by_role("button", name="Sign up").click()

    page.goto("/dashboard/")
    main = page.locator("main")
    expect(main).to_contain_text(f"Lessons completed: 1 / {LESSONS}")
    expect(main.locator("#quiz-attempts")).to_be_visible()
    expect(main).to_contain_text(re.compile(r"\d+(\.\d+)? / 10"))
    expect(main).to_contain_text("finished")
    expect(main).not_to_contain_text("this progress lives in this browser only")
