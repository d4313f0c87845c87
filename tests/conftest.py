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


@pytest.fixture(scope="session")
def _loaded_content(django_db_setup, django_db_blocker, tmp_path_factory):
    """What `load_content` writes, dumped once per session: the command itself is run here, in a
    transaction rolled back afterwards, and every test that wants the content gets the same rows
    back from the dump (a fifth of the time: parsing the YAML and Markdown is most of a load)."""
    from django.apps import apps
    from django.core.management import call_command
    from django.db import transaction

    def counts() -> dict[str, int]:
        return {model._meta.label: model._base_manager.count() for model in apps.get_models()}

    dump = tmp_path_factory.mktemp("content") / "content.json"
    with django_db_blocker.unblock(), transaction.atomic():
        before = counts()
        call_command("load_content", verbosity=0)
        written = [label for label, count in counts().items() if count != before[label]]
        with dump.open("w") as out:
            call_command("dumpdata", *written, stdout=out)
        transaction.set_rollback(True)
    return dump


@pytest.fixture
def content(db, _loaded_content):
    """The real course content, as `make run` loads it (see _loaded_content)."""
    from django.core.management import call_command

    call_command("loaddata", str(_loaded_content), verbosity=0)


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
