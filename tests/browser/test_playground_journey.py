"""Browser journey: open a lesson, flip a fault toggle, see the broken invariant."""

from playwright.sync_api import expect


def test_reader_breaks_the_outbox_in_a_lesson_playground(page, content):
    page.goto("/lessons/transactional-outbox/")
    playground = page.locator("#playground-order-saga")
    expect(playground).to_contain_text("Every invariant held.")
    playground.get_by_label("Publish through the outbox").uncheck()
    playground.get_by_label("Publisher crashes after commit").check()
    playground.get_by_role("button", name="Run the simulation").click()
    result = playground.locator("#playground-order-saga-result")
    expect(result).to_contain_text("An invariant broke.")
    expect(result.locator("li", has_text="No lost event")).to_contain_text("broken")
    # htmx swapped the result in place: still on the lesson, no full reload to the top.
    assert "playground=" not in page.url


def test_playground_works_without_javascript(js_disabled_page, content):
    page = js_disabled_page
    page.goto("/lessons/transactional-outbox/")
    playground = page.locator("#playground-order-saga")
    playground.get_by_label("Publish through the outbox").uncheck()
    playground.get_by_label("Publisher crashes after commit").check()
    playground.get_by_role("button", name="Run the simulation").click()
    expect(page.locator("#playground-order-saga-result")).to_contain_text("An invariant broke.")
