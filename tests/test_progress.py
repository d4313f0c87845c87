"""Lesson progress: kept per learner, in the session for visitors, merged at log-in."""

import json

import pytest
from django.utils import timezone

from lessons.models import Lesson, LessonProgress

pytestmark = pytest.mark.django_db


def _complete(client, slug, done="1"):
    return client.post(f"/lessons/{slug}/complete/", {"done": done})


def _login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_signed_in_learner_marks_a_lesson_complete_and_undoes_it(alice_client, alice, content):
    _complete(alice_client, "idempotency-keys")
    assert LessonProgress.objects.get(user=alice, lesson__slug="idempotency-keys").completed_at
    _complete(alice_client, "idempotency-keys", done="0")
    assert (
        LessonProgress.objects.get(user=alice, lesson__slug="idempotency-keys").completed_at is None
    )


def test_complete_requires_post(client, content):
    assert client.get("/lessons/idempotency-keys/complete/").status_code == 405


def test_anonymous_progress_shows_on_the_dashboard_with_a_sign_up_prompt(client, content):
    _complete(client, "idempotency-keys")
    html = client.get("/dashboard/").content.decode()
    assert f"Lessons completed: <strong>1 / {Lesson.objects.count()}</strong>" in html
    assert "Sign up" in html


def test_visiting_a_lesson_sets_continue_where_you_left_off(alice_client, content):
    alice_client.get("/lessons/transactional-outbox/")
    assert "Continue: The dual-write problem" in alice_client.get("/dashboard/").content.decode()


def test_anonymous_progress_is_merged_at_log_in_twice_without_duplicates(
    client, alice, password, content
):
    _complete(client, "idempotency-keys")
    _login(client, alice.email, password)
    client.post("/accounts/logout/")
    _complete(client, "idempotency-keys")  # the same lesson again, anonymously
    _login(client, alice.email, password)
    rows = LessonProgress.objects.filter(user=alice, lesson__slug="idempotency-keys")
    assert rows.count() == 1 and rows.get().completed_at


def test_merge_keeps_the_better_of_session_and_account(client, alice, password, content):
    earlier = timezone.now() - timezone.timedelta(days=3)
    LessonProgress.objects.create(
        user=alice, lesson=Lesson.objects.get(slug="two-phase-commit"), completed_at=earlier
    )
    LessonProgress.objects.create(user=alice, lesson=Lesson.objects.get(slug="orchestration"))
    _complete(client, "orchestration")
    _complete(
        client, "two-phase-commit", done="0"
    )  # not completed in this browser: must not undo the account's
    _login(client, alice.email, password)
    assert (
        LessonProgress.objects.get(user=alice, lesson__slug="two-phase-commit").completed_at
        == earlier
    )
    assert (
        LessonProgress.objects.get(user=alice, lesson__slug="orchestration").completed_at
        is not None
    )


def test_anonymous_progress_is_merged_at_sign_up(client, content):
    _complete(client, "sagas-and-choreography")
    client.post(
        "/accounts/signup/",
        {
            "email": "dora@example.com",
            "password1": "a-long-secret-phrase-9",
            "password2": "a-long-secret-phrase-9",
        },
    )
    assert LessonProgress.objects.filter(
        user__email="dora@example.com",
        lesson__slug="sagas-and-choreography",
        completed_at__isnull=False,
    ).exists()


def test_dashboard_shows_only_my_own_submissions(alice_client, bob, content):
    from exercises.models import Exercise, Submission

    exercise = Exercise.objects.published().first()
    Submission.objects.create(
        user=bob,
        exercise=exercise,
        version=exercise.published_version,
        code="print('bob secret code')",
        client_token="t1",
        status="failed",
    )
    html = alice_client.get("/dashboard/").content.decode()
    assert "No submissions yet" in html


def test_export_holds_everything_tracked(alice_client, alice, content):
    from exercises.models import Exercise, HintUse, Submission

    _complete(alice_client, "idempotency-keys")
    exercise = Exercise.objects.published().first()
    Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1",
        client_token="t2",
        status="passed",
        result={"status": "passed"},
    )
    HintUse.objects.create(user=alice, exercise=exercise, revealed=2)
    response = alice_client.get("/account/data/")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["account"]["email"] == alice.email
    assert data["lessons"][0]["lesson"] == "idempotency-keys"
    assert data["submissions"][0]["code"] == "x = 1"
    assert data["hints"] == [{"exercise": exercise.slug, "revealed": 2}]
    assert "quick_test_attempts" in data


def test_export_and_delete_need_an_account(client, db):
    assert client.get("/account/data/").status_code == 302
    assert client.post("/account/delete/", {"confirm": "delete my account"}).status_code == 302


def test_delete_needs_the_confirmation_phrase(alice_client, alice, content):
    response = alice_client.post("/account/delete/", {"confirm": "yes"})
    assert response.status_code == 400
    assert type(alice).objects.filter(pk=alice.pk).exists()


def test_delete_removes_the_account_and_its_data(alice_client, alice, content):
    _complete(alice_client, "idempotency-keys")
    alice_client.post("/account/delete/", {"confirm": "delete my account"})
    assert not type(alice).objects.filter(pk=alice.pk).exists()
    assert not LessonProgress.objects.filter(user_id=alice.pk).exists()
