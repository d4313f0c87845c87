"""An instructor authors an exercise in the browser: a broken reference fails validation and
cannot be published; the fixed one validates and is published; a learner then passes it."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from exercises import grading
from sandbox import scenarios
from teach import authoring
from tests.conftest import need

SCENARIO = scenarios.get("idempotent_consumer")
BROKEN_REFERENCE = "def on_payment_captured(event, ctx):\n    return None\n"
STATEMENT = "## What to build\n\nConfirm each paid order **once**.\n"


@pytest.fixture
def eager_validation(settings):
    from courseapp.celery import app

    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = ""  # no worker serves these tests, even where CI has a broker
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def instructor(eager_validation, django_user_model, password):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(
        username="teacher", email="teacher@example.com", password=password
    )
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    authoring.make_instructor(user)
    return user


def _sign_in(page, email, password, next_url):
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_url}")


def test_an_instructor_validates_publishes_and_a_learner_passes(
    page, browser, live_server, transactional_db, instructor, alice, password
):
    _sign_in(page, instructor.email, password, "/teach/")
    page.get_by_role("link", name="New exercise").first.click()

    page.fill("input[name=title]", "Confirm each order once")
    page.fill("input[name=slug]", "confirm-each-order-once")
    page.select_option("select[name=module]", "2")
    page.fill("input[name=order]", "9")
    page.fill("textarea[name=summary]", "Deduplicate PaymentCaptured events.")
    page.fill("textarea[name=statement]", STATEMENT)
    # The live preview renders through htmx as the instructor types.
    expect(page.locator("#statement-preview h2")).to_have_text("What to build")
    expect(page.locator("#statement-preview strong")).to_have_text("once")
    page.select_option("select[name=scenario]", "idempotent_consumer")
    page.fill("textarea[name=starter]", SCENARIO.starter_source)
    page.fill("textarea[name=solution]", BROKEN_REFERENCE)
    page.fill("textarea[name=hints]", "Remember the event ids you handled.\n\nUse the outbox.")
    page.fill("input[name=variants-0-name]", "no_dedup")
    page.select_option("select[name=variants-0-expected]", "confirmed_once")
    page.fill("textarea[name=variants-0-source]", SCENARIO.variants["no_dedup"][0])
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/teach/exercises/confirm-each-order-once/v1/")

    # Validation fails on the broken reference, and publishing is refused.
    page.get_by_role("button", name="Validate").click()
    validation = page.locator("#validation")
    expect(validation).to_contain_text("Some checks failed", timeout=60_000)
    reference_row = validation.locator("tr.check", has_text="Reference solution")
    expect(reference_row.locator(".badge")).to_have_text("wrong")
    expect(reference_row).to_contain_text("it must pass")
    expect(
        validation.locator("tr.check", has_text="Variant no_dedup").locator(".badge")
    ).to_have_text("as expected")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.locator(".messages")).to_contain_text(
        "Version 1 cannot be published: its validation failed"
    )

    # Fix the reference: a new version.
    page.get_by_role("link", name=re.compile("Edit")).first.click()
    page.wait_for_url("**/teach/exercises/confirm-each-order-once/edit/")
    page.fill("textarea[name=solution]", SCENARIO.reference_source)
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/teach/exercises/confirm-each-order-once/v2/")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation")).to_contain_text("Every check held", timeout=60_000)
    page.get_by_role("button", name="Publish version 2").click()
    page.wait_for_url("**/teach/exercises/confirm-each-order-once/")
    expect(page.locator(".notice.success")).to_contain_text("learners see version 2")

    # A learner finds it and passes it with the reference.
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    learner = context.new_page()
    try:
        _sign_in(learner, alice.email, password, "/exercises/")
        card = learner.locator(".exercise-card[data-slug=confirm-each-order-once]")
        expect(card).to_contain_text("Confirm each order once")
        card.get_by_role("link").click()
        expect(learner.locator(".exercise-statement h2")).to_have_text("What to build")
        # The editor replaces the textarea once its bundle has loaded, which on a busy test server
        # (gradings of earlier tests still on its threads) can take longer than one action's wait.
        expect(learner.locator(".cm-content")).to_be_visible(timeout=60_000)
        learner.get_by_role("textbox", name="Your code").fill(SCENARIO.reference_source)
        learner.get_by_role("button", name="Submit for grading").click()
        expect(learner.locator(".submission-status .verdict-title .badge")).to_have_text(
            "Passed", timeout=60_000
        )
    finally:
        context.close()

    # The learner's pass counts in the instructor's stats.
    page.goto("/teach/exercises/confirm-each-order-once/stats/")
    expect(page.locator("[data-stat=pass_rate]")).to_have_text("100%")


def test_without_javascript_the_preview_button_renders_the_statement(
    js_disabled_page, instructor, password
):
    page = js_disabled_page
    _sign_in(page, instructor.email, password, "/teach/exercises/new/")
    page.fill("textarea[name=statement]", STATEMENT)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#statement-preview h2")).to_have_text("What to build")
    expect(page.locator("textarea[name=statement]")).to_have_value(STATEMENT)
