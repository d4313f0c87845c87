"""Fair share of the graders: in-flight caps per account and per client
address, sign-ups rate limited per address, a verified e-mail where required,
and a low lane that holds a bounded number of graders for accounts (or
addresses) with a heavy recent share, so they cannot starve everyone else."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from courseapp.lib.content import LoadReport
from exercises import fair_share, sweeper
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, GradingRequest, Submission
from exercises.tasks import grade_submission

URL = "/exercises/idempotent-consumer/submit/"


@pytest.fixture
def exercise(db, settings):
    settings.GRADING_IN_FLIGHT_PER_ADDRESS = 3
    settings.GRADING_LOW_LANE_SLOTS = 1
    settings.GRADING_ACCOUNT_SHARE_SECONDS = 60
    settings.GRADING_ADDRESS_SHARE_SECONDS = 180
    settings.GRADING_NEW_ACCOUNT_MINUTES = 0
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


@pytest.fixture
def sent(monkeypatch):
    """What reached the broker (the send itself; everything before it is real)."""
    out: list[str] = []
    monkeypatch.setattr(grade_submission, "delay", out.append)
    return out


def _learner(django_user_model, name):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(
        name, f"{name}@example.com", "a-long-secret-phrase-1"
    )
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def _post(client, user, address="203.0.113.9", code="x = 1\n"):
    client.force_login(user)
    return client.post(URL, {"code": code, "client_token": uuid.uuid4().hex}, REMOTE_ADDR=address)


def _used(user, exercise, seconds, address=None):
    """A finished grading of `seconds` within the share window."""
    now = timezone.now()
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token=uuid.uuid4().hex,
        status="failed",
        started_at=now - timedelta(seconds=seconds),
        finished_at=now,
        client_address=address,
    )


def test_the_submission_remembers_the_client_address(client, exercise, alice):
    _post(client, alice, address="198.51.100.4")
    assert Submission.objects.get().client_address == "198.51.100.4"


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, exercise, alice, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    client.force_login(alice)
    client.post(
        URL,
        {"code": "x = 1\n", "client_token": "t"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.77",
    )
    assert Submission.objects.get().client_address == "198.51.100.77"


def test_a_forged_forwarded_address_is_ignored_without_a_trusted_proxy(client, exercise, alice):
    client.force_login(alice)
    client.post(
        URL,
        {"code": "x = 1\n", "client_token": "t"},
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="198.51.100.77",
    )
    assert Submission.objects.get().client_address == "203.0.113.5"


def test_one_account_holds_one_grading_in_flight(client, exercise, alice):
    assert _post(client, alice).status_code == 302
    response = _post(client, alice)
    assert response.status_code == 409 and "still being graded" in response.content.decode()
    assert Submission.objects.count() == 1


def test_one_address_holds_a_bounded_number_of_gradings_in_flight(
    client, exercise, django_user_model
):
    learners = [_learner(django_user_model, f"room{n}") for n in range(5)]
    statuses = [_post(client, user, address="203.0.113.50").status_code for user in learners]
    assert statuses == [302, 302, 302, 429, 429]
    refused = _post(client, learners[4], address="203.0.113.50").content.decode()
    assert "from your network are already waiting for a grader" in refused
    # Another address is not affected, and a finished grading frees a place.
    assert _post(client, learners[3], address="203.0.113.51").status_code == 302
    Submission.objects.filter(user=learners[0]).update(status="passed")
    assert _post(client, learners[4], address="203.0.113.50").status_code == 302


def test_a_learner_with_a_light_share_is_in_the_normal_lane(client, exercise, alice):
    _used(alice, exercise, seconds=5)
    _post(client, alice)
    assert Submission.objects.in_flight().get().lane == "normal"


def test_an_account_with_a_heavy_recent_share_goes_to_the_low_lane(client, exercise, alice):
    _used(alice, exercise, seconds=50)
    _used(alice, exercise, seconds=50)
    _post(client, alice)
    assert Submission.objects.in_flight().get().lane == "low"


def test_grading_time_outside_the_window_is_forgotten(client, exercise, alice, settings):
    old = _used(alice, exercise, seconds=500)
    Submission.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - timedelta(seconds=settings.GRADING_SHARE_WINDOW_SECONDS + 60)
    )
    _post(client, alice)
    assert Submission.objects.in_flight().get().lane == "normal"


def test_a_new_account_goes_to_the_low_lane_until_it_is_established(
    client, exercise, alice, settings
):
    settings.GRADING_NEW_ACCOUNT_MINUTES = 30
    _post(client, alice, address="198.51.100.20")
    assert Submission.objects.in_flight().get().lane == "low"
    Submission.objects.update(status="failed")
    type(alice).objects.filter(pk=alice.pk).update(
        date_joined=timezone.now() - timedelta(minutes=31)
    )
    alice.refresh_from_db()
    _post(client, alice, address="198.51.100.20")
    assert Submission.objects.in_flight().get().lane == "normal"


def test_a_second_grading_from_one_address_waits_in_the_low_lane(
    client, exercise, django_user_model
):
    first, second = _learner(django_user_model, "sib1"), _learner(django_user_model, "sib2")
    _post(client, first, address="198.51.100.30")
    _post(client, second, address="198.51.100.30")
    assert Submission.objects.get(user=first).lane == "normal"
    assert Submission.objects.get(user=second).lane == "low"


def test_fresh_accounts_on_a_heavy_address_go_to_the_low_lane(client, exercise, django_user_model):
    farm = [_learner(django_user_model, f"farm{n}") for n in range(4)]
    for user in farm[:3]:
        _used(user, exercise, seconds=50, address="203.0.113.66")  # 150 s from one address
    _used(farm[0], exercise, seconds=40, address="203.0.113.66")  # 190 s: over the address share
    _post(client, farm[3], address="203.0.113.66")
    assert Submission.objects.in_flight().get().lane == "low"


def test_the_low_lane_hands_out_one_grader_and_parks_the_rest(
    client, exercise, django_user_model, sent, django_capture_on_commit_callbacks
):
    heavy = [_learner(django_user_model, f"heavy{n}") for n in range(3)]
    for user in heavy:
        _used(user, exercise, seconds=120)
    for n, user in enumerate(heavy):
        with django_capture_on_commit_callbacks(execute=True):
            _post(client, user, address=f"198.51.100.{n + 1}")
    first, second, third = (Submission.objects.in_flight().get(user=user) for user in heavy)
    assert [s.lane for s in (first, second, third)] == ["low", "low", "low"]
    assert sent == [str(first.pk)]
    assert set(fair_share.parked()) == {second, third}
    assert client.get("/health/").json()["low_lane"]["detail"] == "2 waiting"

    # A normal learner is sent at once, whatever waits in the low lane.
    light = _learner(django_user_model, "light")
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, light, address="198.51.100.9")
    assert sent[-1] == str(Submission.objects.get(user=light).pk)

    # The sweeper does not push parked submissions past their slot.
    Submission.objects.filter(pk__in=[second.pk, third.pk]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    before = list(sent)
    sweeper.sweep()
    assert sent == before

    # The low-lane grading ends: the next one is released.
    Submission.objects.filter(pk=first.pk).update(status="failed", finished_at=timezone.now())
    assert fair_share.release_low_lane() == 1
    assert sent[-1] in {str(second.pk), str(third.pk)} and len(sent) == len(before) + 1
    assert fair_share.parked().count() == 1


def test_the_lightest_parked_account_is_released_first(exercise, django_user_model, sent):
    users = [_learner(django_user_model, f"p{n}") for n in range(3)]
    for user, seconds in zip(users, (300, 80, 200)):
        _used(user, exercise, seconds=seconds)
    parked = []
    for user in users:
        submission = Submission.objects.create(
            user=user,
            exercise=exercise,
            version=exercise.published_version,
            code="x = 1\n",
            client_token="p",
            lane="low",
        )
        GradingRequest.objects.create(submission=submission)
        parked.append(submission)
    assert fair_share.release_low_lane() == 1
    assert sent == [str(parked[1].pk)]


def test_after_a_low_lane_grading_the_task_releases_the_next(
    exercise, django_user_model, sent, settings
):
    settings.SANDBOX_ALLOW_UNJAILED = False
    users = [_learner(django_user_model, f"q{n}") for n in range(2)]
    waiting = Submission.objects.create(
        user=users[1],
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="w",
        lane="low",
    )
    GradingRequest.objects.create(submission=waiting)
    done = Submission.objects.create(
        user=users[0],
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="d",
        lane="low",
        status="passed",
    )
    GradingRequest.objects.create(submission=done, dispatched_at=timezone.now())
    assert grade_submission.apply(args=[str(done.pk)]).get() == "done"
    assert sent == [str(waiting.pk)]


class _Died(BaseException):
    """The relaying process killed mid-send (nothing after it runs, nothing catches it)."""


def test_a_relay_that_dies_while_sending_leaves_the_low_lane_slot_free(
    exercise, django_user_model, monkeypatch
):
    from courseapp.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", False)  # a broker, as in production
    user = _learner(django_user_model, "dies")
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="d",
        lane="low",
    )
    request = GradingRequest.objects.create(submission=submission)

    def die(*args):
        raise _Died

    monkeypatch.setattr(grade_submission, "delay", die)
    with pytest.raises(_Died):
        fair_share.relay_low(request.pk)
    # Nothing was sent, so the slot is not taken: the next release sends it.
    assert fair_share.low_lane_in_use() == 0
    assert list(fair_share.parked()) == [submission]
    sent: list[str] = []
    monkeypatch.setattr(grade_submission, "delay", sent.append)
    assert fair_share.release_low_lane() == 1
    assert sent == [str(submission.pk)]


def test_submitting_needs_a_verified_email_where_configured(
    client, exercise, django_user_model, settings
):
    settings.SUBMIT_REQUIRES_VERIFIED_EMAIL = True
    unverified = django_user_model.objects.create_user(
        "new", "new@example.com", "a-long-secret-phrase-1"
    )
    response = _post(client, unverified)
    assert response.status_code == 403
    assert "Confirm your e-mail address before submitting" in response.content.decode()
    assert not Submission.objects.exists()
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(
        user=unverified, email=unverified.email, primary=True, verified=True
    )
    assert _post(client, unverified).status_code == 302


def test_by_default_an_unverified_account_may_submit(client, exercise, django_user_model, settings):
    settings.SUBMIT_REQUIRES_VERIFIED_EMAIL = False
    user = django_user_model.objects.create_user("new", "new@example.com", "a-long-secret-phrase-1")
    assert _post(client, user).status_code == 302


def test_mandatory_verification_turns_the_submit_check_on_by_default(monkeypatch):
    import importlib

    from courseapp import settings as site_settings

    monkeypatch.setenv("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
    monkeypatch.delenv("SUBMIT_REQUIRES_VERIFIED_EMAIL", raising=False)
    try:
        assert importlib.reload(site_settings).SUBMIT_REQUIRES_VERIFIED_EMAIL is True
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)


def test_sign_ups_from_one_address_are_limited_to_a_few(client, db):
    statuses = [
        client.post(
            "/accounts/signup/",
            {
                "email": f"farm{n}@example.com",
                "password1": "a-long-secret-phrase-1",
                "password2": "a-long-secret-phrase-1",
            },
            REMOTE_ADDR="203.0.113.70",
        ).status_code
        for n in range(5)
    ]
    assert statuses[:3] == [302, 302, 302] and statuses[3:] == [429, 429]
    # Another address can still sign up.
    other = client.post(
        "/accounts/signup/",
        {
            "email": "else@example.com",
            "password1": "a-long-secret-phrase-1",
            "password2": "a-long-secret-phrase-1",
        },
        REMOTE_ADDR="203.0.113.71",
    )
    assert other.status_code == 302
