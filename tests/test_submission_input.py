"""Submitting code: every bad input gets a clear message and loses nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from courseapp.lib.content import LoadReport
from exercises import dispatch, grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Submission

URL = "/exercises/idempotent-consumer/submit/"


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


@pytest.fixture(autouse=True)
def no_grading(monkeypatch):
    # These tests are about accepting code; what grading does is tested elsewhere.
    monkeypatch.setattr(dispatch, "send_grading", lambda pk: None)


def _post(client, code="def on_payment_captured(event, ctx):\n    pass\n", token="t-1", **extra):
    return client.post(URL, {"code": code, "client_token": token, **extra})


def test_it_creates_the_submission_and_its_grading_request_together(alice_client, alice, exercise):
    response = _post(alice_client)
    submission = Submission.objects.get()
    assert response.status_code == 302 and response.url == "/exercises/idempotent-consumer/#result"
    assert submission.user == alice and submission.status == "queued"
    assert submission.version == exercise.published_version
    assert GradingRequest.objects.get().submission == submission


def test_it_relays_the_grading_request_only_after_commit(
    alice_client, exercise, monkeypatch, django_capture_on_commit_callbacks
):
    relayed = []
    monkeypatch.setattr(dispatch, "send_grading", relayed.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _post(alice_client)
        assert relayed == []
    for callback in callbacks:
        callback()
    assert relayed == [GradingRequest.objects.get().pk]


def test_it_keeps_the_correlation_id_of_the_request(alice_client, exercise):
    alice_client.post(URL, {"code": "x = 1\n", "client_token": "t"}, HTTP_X_REQUEST_ID="req-42")
    assert Submission.objects.get().correlation_id == "req-42"


def test_it_refuses_empty_code_with_a_message(alice_client, exercise):
    response = _post(alice_client, code="   \n\n")
    assert response.status_code == 400
    assert "Your code is empty" in response.content.decode()
    assert not Submission.objects.exists()


def test_it_refuses_oversized_code_and_keeps_it_in_the_editor(alice_client, exercise):
    code = "# " + "x" * (grading.MAX_CODE_BYTES + 10) + "\n"
    response = _post(alice_client, code=code)
    html = response.content.decode()
    assert response.status_code == 413 and "the limit is 64 KiB" in html
    assert "x" * 1000 in html
    assert not Submission.objects.exists()


def test_it_refuses_a_non_utf8_upload_and_keeps_the_editor_code(alice_client, exercise):
    upload = SimpleUploadedFile(
        "mine.py", b"def f():\n    return '\xff\xfe'\n", content_type="text/x-python"
    )
    response = _post(alice_client, code="# my editor code\n", upload=upload)
    html = response.content.decode()
    assert response.status_code == 400
    assert "not UTF-8 text" in html and "line 2" in html
    assert "# my editor code" in html
    assert not Submission.objects.exists()


def test_it_grades_a_utf8_upload_instead_of_the_editor(alice_client, exercise):
    upload = SimpleUploadedFile("mine.py", "# café\nx = 1\n".encode(), content_type="text/x-python")
    _post(alice_client, code="# editor\n", upload=upload)
    assert Submission.objects.get().code == "# café\nx = 1\n"


def test_a_replayed_post_does_not_submit_twice(alice_client, exercise):
    _post(alice_client, token="same")
    response = _post(alice_client, token="same")
    submission = Submission.objects.get()
    assert response.status_code == 302 and response.url == submission.get_absolute_url()
    assert GradingRequest.objects.count() == 1


def test_a_second_submit_while_one_is_in_flight_is_refused_and_the_first_continues(
    alice_client, exercise
):
    _post(alice_client, token="first")
    response = _post(alice_client, code="# second attempt\n", token="second")
    html = response.content.decode()
    assert response.status_code == 409
    assert "still being graded" in html and "# second attempt" in html
    first = Submission.objects.get()
    assert first.client_token == "first" and first.status == "queued"


def test_it_caps_submissions_per_minute(alice_client, alice, exercise):
    for i in range(grading.SUBMISSIONS_PER_MINUTE):
        Submission.objects.create(
            user=alice,
            exercise=exercise,
            version=exercise.published_version,
            code="x",
            client_token=f"old-{i}",
            status="failed",
        )
    response = _post(alice_client, code="# try again\n", token="new")
    html = response.content.decode()
    assert response.status_code == 429 and "in the last minute" in html and "# try again" in html
    assert not Submission.objects.filter(client_token="new").exists()


def test_it_needs_a_token(alice_client, exercise):
    response = _post(alice_client, token="")
    assert response.status_code == 400 and "reload the page" in response.content.decode()


def test_it_requires_login(client, exercise):
    # An anonymous visitor is asked to sign up (or log in), their code kept (tests/test_onboarding.py).
    response = _post(client)
    assert response.status_code == 302 and response.url.startswith("/accounts/signup/")
    assert not Submission.objects.exists()


def test_it_rejects_get(alice_client, exercise):
    assert alice_client.get(URL).status_code == 405


def test_it_404s_for_an_unknown_exercise(alice_client, exercise):
    response = alice_client.post(
        "/exercises/no-such-exercise/submit/", {"code": "x", "client_token": "t"}
    )
    assert response.status_code == 404
