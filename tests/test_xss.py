"""Learner- and author-controlled text is shown escaped everywhere."""

import pytest

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission

pytestmark = pytest.mark.django_db

PAYLOAD = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
ESCAPED = "&lt;script&gt;alert(2)&lt;/script&gt;"


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


def _hostile_submission(user, exercise, token="x1"):
    code = f"# {PAYLOAD}\n</textarea>{PAYLOAD}\n"
    result = {
        "status": "failed",
        "message": f"broke: {PAYLOAD}",
        "violations": [
            {"name": "confirmed_once", "title": "Confirmed exactly once", "explanation": PAYLOAD}
        ],
        "invariants": [
            {
                "name": "confirmed_once",
                "title": "Confirmed exactly once",
                "explanation": PAYLOAD,
                "held": False,
            }
        ],
        "seed": 1,
        "schedules_explored": 1,
        "fault_kinds_explored": {PAYLOAD: 1},
        "counterexample": {
            "seed": 1,
            "schedule": [{"kind": "crash", "site": PAYLOAD}],
            "trace": [
                {
                    "t": 0,
                    "service": PAYLOAD,
                    "kind": "error",
                    "message_id": PAYLOAD,
                    "correlation_id": PAYLOAD,
                    "detail": PAYLOAD,
                    "to": PAYLOAD,
                }
            ],
        },
        "lanes": [PAYLOAD],
        "output": PAYLOAD,
        "output_dropped": 0,
        "duration_ms": 1,
        "jailed": True,
    }
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=token,
        status="failed",
        result=result,
    )


def _assert_inert(html: str):
    assert "<script>alert(2)" not in html
    assert 'onerror="alert(1)"' not in html
    assert "</textarea><img" not in html


def test_learner_code_output_and_trace_are_escaped_on_the_submission_page(
    alice_client, alice, exercise
):
    submission = _hostile_submission(alice, exercise)
    html = alice_client.get(f"/exercises/submissions/{submission.pk}/").content.decode()
    _assert_inert(html)
    assert ESCAPED in html


def test_learner_code_is_escaped_in_the_editor_and_history(alice_client, alice, exercise):
    _hostile_submission(alice, exercise, "x1")
    _hostile_submission(alice, exercise, "x2").__class__.objects.filter(client_token="x2").update(
        code="x = 1\n"
    )
    for url in [
        "/exercises/idempotent-consumer/",
        "/exercises/idempotent-consumer/history/",
        "/dashboard/",
    ]:
        _assert_inert(alice_client.get(url).content.decode())


def test_learner_email_is_escaped_in_the_header(client, django_user_model, content):
    user = django_user_model.objects.create_user(
        "mallory", email='m"><script>alert(2)</script>@example.com', password="x-long-password-1"
    )
    client.force_login(user)
    _assert_inert(client.get("/").content.decode())


def test_quick_test_explanations_with_markup_are_escaped(client, content):
    from lessons.models import Question

    Question.objects.update(prompt=PAYLOAD, explanation=PAYLOAD)
    client.get("/quick-test/")
    page = client.post("/quick-test/new/", follow=True).content.decode()
    _assert_inert(page)
