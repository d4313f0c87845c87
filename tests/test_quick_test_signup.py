"""An anonymous learner who signs up or logs in keeps their Quick Test attempts, exactly once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from lessons.models import QuizAnswer, QuizAttempt
from quicktest import attempts as quiz
from tests.test_quick_test import answer, bank, finish  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # allauth's log-in and sign-up rate limits live in the cache, which outlives a test.
    cache.clear()


@pytest.fixture
def anonymous_attempt(client, bank):  # noqa: F811
    client.post(reverse("quiz:new"))
    attempt = QuizAttempt.objects.get()
    answer(client, attempt)
    return attempt


def log_in(client, email, password):
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


class TestKeepingAttemptsAtLogIn:
    def test_signing_up_attaches_the_sessions_attempt(
        self, client, anonymous_attempt, django_user_model
    ):
        response = client.post(
            reverse("account_signup"),
            {
                "email": "dora@example.com",
                "password1": "a-long-secret-phrase-1",
                "password2": "a-long-secret-phrase-1",
            },
        )
        assert response.status_code == 302
        dora = django_user_model.objects.get(email="dora@example.com")
        anonymous_attempt.refresh_from_db()
        assert anonymous_attempt.user == dora
        assert QuizAttempt.objects.count() == 1 and QuizAnswer.objects.count() == 1

    def test_logging_in_attaches_it_and_logging_in_again_attaches_nothing_new(
        self, client, anonymous_attempt, alice, password
    ):
        log_in(client, alice.email, password)
        assert list(QuizAttempt.objects.values_list("user", flat=True)) == [alice.pk]
        client.post(reverse("account_logout"))
        log_in(client, alice.email, password)
        assert QuizAttempt.objects.count() == 1 and alice.quiz_attempts.count() == 1
        assert QuizAnswer.objects.count() == 1

    def test_the_learner_finishes_the_same_attempt_after_logging_in(
        self, client, anonymous_attempt, alice, password
    ):
        log_in(client, alice.email, password)
        finish(client, anonymous_attempt)
        assert client.get(reverse("quiz:result", args=[anonymous_attempt.pk])).status_code == 200
        anonymous_attempt.refresh_from_db()
        assert anonymous_attempt.is_finished and anonymous_attempt.score() == (10.0, 10)

    def test_an_attempt_already_owned_by_someone_is_never_moved(
        self, client, anonymous_attempt, alice, bob, password
    ):
        QuizAttempt.objects.update(user=bob)
        log_in(client, alice.email, password)
        assert QuizAttempt.objects.get().user == bob

    def test_other_sessions_attempts_are_not_attached(
        self, client, anonymous_attempt, alice, password
    ):
        other = Client()
        other.post(reverse("quiz:new"))
        log_in(client, alice.email, password)
        assert QuizAttempt.objects.filter(user=alice).count() == 1
        assert QuizAttempt.objects.filter(user=None).count() == 1

    def test_attaching_twice_directly_is_a_no_op(self, client, anonymous_attempt, alice):
        session = client.session
        assert quiz.attach_session_attempts(session, alice) == 1
        assert quiz.attach_session_attempts(session, alice) == 0
        assert alice.quiz_attempts.count() == 1

    def test_a_second_log_in_signal_with_the_same_session_attaches_nothing_new(
        self, rf, client, anonymous_attempt, alice, bob, password
    ):
        from allauth.account.signals import user_logged_in

        log_in(client, alice.email, password)
        request = rf.get("/")
        request.session = client.session
        assert anonymous_attempt.pk in request.session[quiz.SESSION_KEY]
        user_logged_in.send(sender=type(alice), request=request, user=alice)
        user_logged_in.send(sender=type(bob), request=request, user=bob)
        assert list(QuizAttempt.objects.values_list("user", flat=True)) == [alice.pk]
