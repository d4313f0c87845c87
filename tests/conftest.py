"""Fixtures shared by every test module."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("SAGA_REQUIRE_SERVICES") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when a service is simply not configured here, but fail in CI where
    SAGA_REQUIRE_SERVICES=1 says every service must be present."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def password() -> str:
    return "correct-horse-battery-7"


@pytest.fixture
def alice(django_user_model, password):
    return _user(django_user_model, "alice@example.com", password)


@pytest.fixture
def bob(django_user_model, password):
    return _user(django_user_model, "bob@example.com", password)


def _user(model, email, password):
    from allauth.account.models import EmailAddress

    user = model.objects.create_user(username=email.split("@")[0], email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def content(db):
    """The real course content, loaded the way `make run` loads it."""
    from django.core.management import call_command

    call_command("load_content", verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached pages must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def embedded_mode(settings):
    """The embedded mode, even where CI configures a broker: no worker serves these tests, so tasks
    run on this process's background pool and results stay in its cache."""
    from courseapp.celery import app

    settings.CELERY_BROKER_URL = ""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
