"""Browser journey: open a lesson, flip a fault toggle, see the broken invariant."""

import re

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


def test_the_default_runs_timeline_arrives_when_scrolled_into_view(page, content):
    page.goto("/lessons/transactional-outbox/")
    result = page.locator("#playground-order-saga-result")
    result.locator(".playground-detail").scroll_into_view_if_needed()  # the reader gets there
    expect(result.locator(".timeline-wrap svg").first).to_be_attached()
    expect(result.locator("summary", has_text="Trace (")).to_be_visible()
    expect(result.locator(".playground-detail")).to_have_count(0)


def test_without_javascript_a_link_opens_the_timeline(js_disabled_page, content):
    page = js_disabled_page
    page.goto("/lessons/transactional-outbox/")
    result = page.locator("#playground-order-saga-result")
    result.get_by_role("link", name="Show the timeline and trace of this run").click()
    expect(page).to_have_url(re.compile(r"playground=order-saga#playground-order-saga$"))
    result = page.locator("#playground-order-saga-result")
    expect(result.locator(".timeline-wrap svg").first).to_be_attached()
    expect(result).to_contain_text("Every invariant held.")
