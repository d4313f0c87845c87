"""Analytics: how learners do on an exercise, and which Quick Test questions confuse them."""

from __future__ import annotations

import pytest

from exercises.content_loader import ExerciseSpec
from exercises.models import HintUse, Submission
from lessons.models import Question, QuizAnswer, QuizAttempt
from sandbox import scenarios
from teach import authoring

SCENARIO = scenarios.get("idempotent_consumer")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def instructor_client(client, bob):
    authoring.make_instructor(bob)
    client.force_login(bob)
    return client


@pytest.fixture
def exercise(bob):
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
        hints=["one", "two", "three"],
    )
    exercise, version, _ = authoring.save_draft(spec, bob)
    exercise.published_version = version
    exercise.save()
    return exercise


def _violations(*names):
    return {
        "status": "failed",
        "violations": [{"name": name, "title": name.replace("_", " ").title()} for name in names],
    }


def _learner(django_user_model, name):
    return django_user_model.objects.create_user(
        username=name, email=f"{name}@example.com", password="pw"
    )


_COUNTER = [0]


def _submit(user, exercise, status, result=None, n=_COUNTER):
    n[0] += 1
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code="x",
        client_token=f"t{n[0]}",
        status=status,
        result=result,
    )


@pytest.fixture
def history(exercise, django_user_model):
    ann, ben, cid = (_learner(django_user_model, name) for name in ("ann", "ben", "cid"))
    _submit(ann, exercise, "failed", _violations("confirmed_once"))
    _submit(ann, exercise, "failed", _violations("confirmed_once", "no_lost_event"))
    _submit(ann, exercise, "passed", {"status": "passed", "violations": []})
    _submit(
        ann, exercise, "failed", _violations("confirmed_once")
    )  # after passing: not an attempt to pass
    _submit(ben, exercise, "passed", {"status": "passed", "violations": []})
    _submit(cid, exercise, "failed", _violations("no_lost_event"))
    _submit(cid, exercise, "queued")  # still grading: not counted
    HintUse.objects.create(user=ann, exercise=exercise, revealed=2)
    HintUse.objects.create(user=cid, exercise=exercise, revealed=1)
    HintUse.objects.create(user=ben, exercise=exercise, revealed=0)


def test_it_counts_attempts_learners_and_the_pass_rate(exercise, history):
    stats = authoring.exercise_stats(exercise)
    assert stats["attempts"] == 6 and stats["learners"] == 3 and stats["learners_passed"] == 2
    assert stats["pass_rate"] == 67


def test_it_takes_the_median_of_attempts_up_to_each_first_pass(exercise, history):
    assert authoring.exercise_stats(exercise)["median_attempts_to_pass"] == 2  # ann 3, ben 1


def test_it_ranks_the_invariants_most_often_broken(exercise, history):
    broken = authoring.exercise_stats(exercise)["broken"]
    assert [(row["name"], row["count"]) for row in broken] == [
        ("confirmed_once", 3),
        ("no_lost_event", 2),
    ]


def test_it_reports_hint_use(exercise, history):
    stats = authoring.exercise_stats(exercise)
    assert stats["hint_learners"] == 2 and stats["hints_revealed"] == {2: 1, 1: 1}
    assert stats["hint_pass_rate"] == 50 and stats["no_hint_pass_rate"] == 100


def test_the_stats_page_shows_them(instructor_client, exercise, history):
    html = instructor_client.get("/teach/exercises/confirm-once/stats/").content.decode()
    assert (
        '<dd data-stat="attempts">6</dd>' in html and '<dd data-stat="pass_rate">67%</dd>' in html
    )
    assert '<dd data-stat="median_attempts_to_pass">2</dd>' in html
    assert "Confirmed Once" in html and "<code>no_lost_event</code>" in html


def test_an_exercise_nobody_tried_has_empty_stats(instructor_client, exercise):
    stats = authoring.exercise_stats(exercise)
    assert (
        stats["attempts"] == 0
        and stats["pass_rate"] is None
        and stats["median_attempts_to_pass"] is None
    )
    assert instructor_client.get("/teach/exercises/confirm-once/stats/").status_code == 200


def test_questions_answered_wrong_most_often_come_first_and_are_flagged(instructor_client, content):
    hard = Question.objects.get(key="2pc-availability-product")
    easy = Question.objects.get(key="2pc-one-no-vote")
    for n in range(5):
        attempt = QuizAttempt.objects.create(
            session_key=f"s{n}", question_keys=[hard.key, easy.key]
        )
        QuizAnswer.objects.create(
            attempt=attempt, question=hard, given=0, score=1.0 if n == 0 else 0.0
        )
        QuizAnswer.objects.create(attempt=attempt, question=easy, given=True, score=1.0)
    ranked = [q for q in authoring.question_stats() if q.answers]
    assert [q.key for q in ranked] == [hard.key, easy.key]
    assert (ranked[0].answers, ranked[0].right, ranked[0].right_rate, ranked[0].confusing) == (
        5,
        1,
        20,
        True,
    )
    assert not ranked[1].confusing
    html = instructor_client.get("/teach/questions/").content.decode()
    row = html[html.index(f'data-key="{hard.key}"') :]
    row = row[: row.index("</tr>")]
    assert "confusing" in row and '<td data-stat="answers">5</td>' in row and "1 (20%)" in row
