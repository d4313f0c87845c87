"""Validation through a real Celery worker on Redis with PostgreSQL (CI): the view queues it, a worker
process runs every check in the jail, and the page then shows the verdict and allows publishing."""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connection

from exercises.content_loader import ExerciseSpec
from exercises.models import ExerciseVersion
from sandbox import scenarios
from teach import authoring
from tests.conftest import need
from tests.workers import celery_worker, wait_for

pytestmark = pytest.mark.services
SCENARIO = scenarios.get("idempotent_consumer")


@pytest.fixture
def services(transactional_db, settings):
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL is not set")
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    from courseapp.celery import app

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False  # really send to the broker
    yield
    app.conf.task_always_eager = before


def test_a_worker_validates_a_version_and_it_can_then_be_published(services, client, bob):
    spec = ExerciseSpec(
        slug="confirm-once",
        title="Confirm once",
        module=2,
        order=1,
        summary="",
        statement="x",
        scenario="idempotent_consumer",
        starter=SCENARIO.starter_source,
        solution=SCENARIO.reference_source,
        hints=["h"],
        variants={
            "no_dedup": {"source": SCENARIO.variants["no_dedup"][0], "expected": "confirmed_once"}
        },
    )
    exercise, version, _ = authoring.save_draft(spec, bob)
    authoring.make_instructor(bob)
    client.force_login(bob)

    with celery_worker("--pool=solo", SANDBOX_RANDOM_SCHEDULES="10") as worker:
        response = client.post("/teach/exercises/confirm-once/v1/validate/", HTTP_HX_REQUEST="true")
        assert (
            "Validation is queued" in response.content.decode()
            or "Validation is running" in response.content.decode()
        )

        def finished():
            state = ExerciseVersion.objects.get(pk=version.pk).validation or {}
            return state.get("status") in ("passed", "failed")

        assert wait_for(finished, 120), worker.log()[-3000:]

    version.refresh_from_db()
    assert version.validation["status"] == "passed", version.validation
    client.post("/teach/exercises/confirm-once/v1/publish/")
    exercise.refresh_from_db()
    assert exercise.published_version == version
