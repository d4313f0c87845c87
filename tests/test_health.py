import os

import pytest

from tests.conftest import need


def test_health_reports_database_broker_and_jail(client, db):
    body = client.get("/health/").json()
    assert body["database"]["ok"] is True
    assert set(body) >= {"status", "database", "broker", "jail"}


def test_health_is_503_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_embedded_default_runs_tasks_in_process(client, db, settings):
    settings.CELERY_BROKER_URL = ""
    assert client.get("/health/").json()["broker"]["detail"] == "in-process"


@pytest.mark.services
def test_ci_services_are_reachable(client, db):
    need(bool(os.environ.get("DATABASE_URL")), "DATABASE_URL not set")
    need(bool(os.environ.get("CELERY_BROKER_URL")), "CELERY_BROKER_URL not set")
    body = client.get("/health/").json()
    assert body["database"] == {"ok": True, "detail": "postgresql"}
    assert body["broker"] == {"ok": True, "detail": "reachable"}
