"""Browser journey: a lesson's claim is a one-click preset of its playground."""

import re

from playwright.sync_api import expect


def test_reader_clicks_a_claim_and_sees_the_run_break_the_invariant_it_names(page, content):
    page.goto("/lessons/transactional-outbox/")
    claim = page.locator(".claim", has_text="Publisher crashes after commit on").filter(
        has_text="No lost event"
    )
    expect(claim.first).to_contain_text("Expected:")
    claim.first.get_by_role("link", name="Run it").click()

    playground = page.locator("#playground-order-saga")
    expect(playground.get_by_label("Publish through the outbox")).not_to_be_checked()
    expect(playground.get_by_label("Publisher crashes after commit")).to_be_checked()
    expect(playground.get_by_label("Seed")).to_have_value("1")
    result = page.locator("#playground-order-saga-result")
    expect(result).to_contain_text("An invariant broke.")
    expect(result.locator("li", has_text="No lost event")).to_contain_text("broken")
    expect(result.locator("li", has_text="Every order resolves")).to_contain_text("broken")
    expect(result.locator("li", has_text="No double charge")).to_contain_text("held")
    assert "playground=order-saga" in page.url and page.url.endswith("#playground-order-saga")


def test_a_claim_preset_works_without_javascript(js_disabled_page, content):
    page = js_disabled_page
    page.goto("/lessons/operating-sagas/")
    page.locator(".claim", has_text="Dead-letter queue off").first.get_by_role(
        "link", name="Run it"
    ).click()
    result = page.locator("#playground-poison-message-result")
    expect(result.locator("li", has_text="Poison messages are isolated")).to_contain_text("broken")


def test_a_claim_in_the_design_lesson_opens_the_playground_where_it_lives(page, content):
    page.goto("/lessons/design-procedure/")
    page.locator(".claim", has_text="Coordinator crashes after prepare on").get_by_role(
        "link", name="Run it"
    ).click()
    expect(page).to_have_url(re.compile(r"/lessons/two-phase-commit/\?.*coordinator_crash=on"))
    result = page.locator("#playground-two-phase-commit-result")
    expect(
        result.locator("li", has_text="2PC participants agree and are not left blocked")
    ).to_contain_text("broken")
