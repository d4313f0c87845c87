"""Faults of every part of the platform, not only the worker.

A private stack (its own PostgreSQL cluster and Redis on free ports, gunicorn,
a real Celery worker and the jail; see tests/services.py) takes a batch of
submissions through the site's form from separate learners; in the middle of
the batch one part is broken: Redis restarted (it keeps nothing on disk, so
every queued message is lost), PostgreSQL restarted, the web server SIGKILLed
and started again, the worker SIGKILLed and started again. The sweeper runs
as beat would, with shortened waits. After each fault every submission must
end with exactly one verdict (the one its code deserves), none lost, none
doubled; while a part is down the site answers with a 503 page in its layout
that says what is wrong and that nothing was lost (never a 500 or a
traceback), and a refused submission hands the learner's code back.

`python -m bench.faults` runs the same drills with 100 submissions each.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.conftest import need
from tests.services import BATCH_FAULTS, FaultDrill, Stack, free_port, http_get, missing_tools

BATCH = 24


@pytest.fixture(scope="module")
def stack():
    missing = missing_tools()
    need(not missing, f"missing for the private stack: {', '.join(missing)}")
    stack = Stack(learners=BATCH * len(BATCH_FAULTS))
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def drill(stack: Stack, fault: str):
    part = BATCH_FAULTS.index(fault)
    report = FaultDrill(stack, fault, stack.sessions[part * BATCH : (part + 1) * BATCH]).run()
    print(f"\n{report.summary()}")
    return report


def assert_every_submission_has_exactly_one_verdict(report):
    assert report.drained, f"still in flight after the drill: {report.statuses}"
    assert report.rows == report.submissions, "a submission was lost or made twice"
    assert report.duplicates == 0
    assert report.unfinished == 0
    assert report.wrong_verdicts == [], (
        "a submission ended with a verdict its code does not deserve"
    )
    assert set(report.verdict_writes) <= {0, 1}, (
        f"a verdict was written twice: {report.verdict_writes}"
    )
    # A write whose log line was lost with a killed worker is the only way to see 0 here.
    assert report.verdict_writes.get(1, 0) >= report.submissions - 2


def assert_every_refusal_was_clear(report):
    unclear = [a for a in report.answers if a.status != 0 and not a.clear]
    assert unclear == [], f"answers that were not the clear 503 page: {unclear[:3]}"
    assert not any(key.startswith("500") for key in report.pages_while_down)


@pytest.mark.services
def test_restarting_redis_mid_batch_loses_no_submission_and_grades_each_once(stack):
    report = drill(stack, "redis")
    assert_every_submission_has_exactly_one_verdict(report)
    assert_every_refusal_was_clear(report)
    # The broker's outage did not stop learners submitting: saved, relayed by the sweeper later.
    assert report.accepted_while_down > 0
    assert report.answers == []


@pytest.mark.services
def test_restarting_postgresql_mid_batch_answers_503_and_grades_each_once(stack):
    report = drill(stack, "postgres")
    assert_every_submission_has_exactly_one_verdict(report)
    assert_every_refusal_was_clear(report)
    assert report.pages_while_down.get("503 clear"), (
        "no page was loaded while the database was down"
    )
    refused_posts = [a for a in report.answers if a.method == "POST" and a.status == 503]
    assert refused_posts, "no submission was posted while the database was down"
    assert all(a.kept_code for a in refused_posts), (
        "a refused submission lost the learner's code or token"
    )


@pytest.mark.services
def test_killing_the_web_server_mid_batch_loses_no_submission_and_doubles_none(stack):
    report = drill(stack, "web")
    assert_every_submission_has_exactly_one_verdict(report)
    assert_every_refusal_was_clear(report)
    assert any(a.status == 0 for a in report.answers), (
        "no learner was submitting while the web server was down"
    )


@pytest.mark.services
def test_killing_the_worker_mid_batch_grades_each_submission_once(stack):
    report = drill(stack, "worker")
    assert_every_submission_has_exactly_one_verdict(report)
    assert_every_refusal_was_clear(report)
    assert report.deliveries.get(2, 0) + report.deliveries.get(3, 0) >= 1, (
        "no grading was under way when the worker was killed"
    )


@pytest.mark.services
def test_once_postgresql_is_back_the_first_request_of_every_web_process_succeeds(stack):
    pages = [
        http_get(stack.web.base + "/exercises/")[0] for _ in range(8)
    ]  # every gunicorn worker connects
    assert pages == [200] * 8
    stack.pg.stop("fast")
    stack.pg.start()
    after = [http_get(stack.web.base + "/exercises/")[0] for _ in range(8)]
    print(f"\nafter PostgreSQL restarted under idle web processes: {after}")
    assert after == [200] * 8


# -- the 503 page itself, without the private stack ----------------------------------------


@pytest.mark.django_db
def test_an_unreachable_cache_answers_the_clear_503_page_not_a_500(content):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    with override_settings(CACHES=unreachable, DEBUG=False):
        response = Client(raise_request_exception=False).get("/lessons/idempotency-keys/")
    page = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "Part of our storage is unreachable" in page and "Nothing was lost" in page
    assert 'class="site-header"' in page
    assert "Traceback" not in page and "ConnectionError" not in page


@pytest.fixture
def cut_database(transactional_db):
    """Point this thread's connection at a port where nothing listens: the next query cannot connect."""
    from django.db import connection

    need(
        connection.vendor == "postgresql",
        "cutting the database needs PostgreSQL (an in-memory SQLite cannot close)",
    )
    saved = dict(connection.settings_dict)

    def cut():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))

    yield cut
    connection.close()
    connection.settings_dict.update(saved)


def test_a_database_outage_on_submit_hands_the_code_and_its_token_back(
    alice, content, cut_database
):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    code = "def handle(ctx, message):\n    return '<not html>'\n"
    cut_database()
    response = client.post(
        "/exercises/idempotent-consumer/submit/",
        {"code": code, "client_token": "tok-123", "password": "never echoed"},
    )
    page = response.content.decode()
    assert response.status_code == 503
    assert "Our database is unreachable" in page and "Nothing was lost" in page
    assert "&lt;not html&gt;" in page and "<not html>" not in page
    assert 'name="client_token" value="tok-123"' in page
    assert "never echoed" not in page
    assert "Try again" in page and 'action="/exercises/idempotent-consumer/submit/"' in page


def test_an_htmx_post_during_an_outage_reloads_the_page_to_show_the_503(
    alice, content, cut_database
):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    cut_database()
    response = client.post("/exercises/idempotent-consumer/hints/", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response["HX-Refresh"] == "true"
