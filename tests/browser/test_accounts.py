"""Browser journey: sign up, log out, log in again, change the password."""

import re

from playwright.sync_api import expect


def test_learner_signs_up_logs_out_logs_in_and_changes_password(page, db):
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "carol@example.com")
    page.fill("input[name=password1]", "a-long-secret-phrase-1")
    page.fill("input[name=password2]", "a-long-secret-phrase-1")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("carol@example.com")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.fill("input[name=login]", "carol@example.com")
    page.fill("input[name=password]", "a-long-secret-phrase-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("carol@example.com")

    page.goto("/accounts/password/change/")
    page.fill("input[name=oldpassword]", "a-long-secret-phrase-1")
    page.fill("input[name=password1]", "another-long-phrase-2")
    page.fill("input[name=password2]", "another-long-phrase-2")
    page.get_by_role("button", name="Change Password").click()
    expect(page.locator(".messages")).to_contain_text(re.compile("password", re.I))

    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "carol@example.com")
    page.fill("input[name=password]", "another-long-phrase-2")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("carol@example.com")
