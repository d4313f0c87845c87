"""Playwright with Debian's Chromium, against Django's live server.

Every browser test takes `page` (a fresh context per test) and `live_server`.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import need

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    need(
        shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM),
        f"Chromium not found at {CHROMIUM}",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server, settings):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def js_disabled_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def eager_grading(settings):
    """Grading in the real jail on the live server's background threads (the embedded mode), even
    where CI configures a broker: no worker serves these tests."""
    from courseapp.celery import app
    from exercises import grading

    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = ""
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def session_login(page, live_server, user, next_url: str) -> None:
    """Log the page in as `user` (through the session cookie) and open `next_url`."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page.goto(next_url)
