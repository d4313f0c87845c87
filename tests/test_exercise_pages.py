"""The catalogue, an exercise page, hints, the solution, history and owner-only submission pages."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from django.utils.html import escape

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, HintUse, Submission
from tests.conftest import need

FAILED_RESULT = {
    "status": "failed",
    "message": "Confirmed exactly once broke: order o1 was confirmed 2 times.",
    "violations": [
        {"name": "confirmed_once", "title": "Confirmed exactly once", "explanation": "…"}
    ],
    "invariants": [
        {
            "name": "confirmed_once",
            "title": "Confirmed exactly once",
            "explanation": "once",
            "held": False,
        },
        {
            "name": "no_lost_event",
            "title": "No lost event",
            "explanation": "none lost",
            "held": True,
        },
    ],
    "seed": 0,
    "schedules_explored": 3,
    "fault_kinds_explored": {"duplicate": 1},
    "counterexample": {
        "seed": 7,
        "schedule": [{"kind": "duplicate", "site": "deliver:m1"}],
        "trace": [
            {
                "t": 0,
                "service": "payment",
                "kind": "publish",
                "message_id": "m1",
                "correlation_id": "c1",
                "detail": "PaymentCaptured",
            },
            {
                "t": 5,
                "service": "order",
                "kind": "deliver",
                "message_id": "m1",
                "correlation_id": "c1",
                "detail": "PaymentCaptured -> on_payment_captured()",
            },
            {
                "t": 6,
                "service": "order",
                "kind": "duplicate",
                "message_id": "m1",
                "correlation_id": "c1",
                "detail": "the broker will deliver PaymentCaptured again",
            },
        ],
    },
    "lanes": ["payment", "order", "shipping"],
    "output": "<b>printed</b> by the learner",
    "output_dropped": 0,
    "duration_ms": 12,
    "jailed": True,
}


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


def _submission(
    user,
    exercise,
    status="failed",
    result=None,
    code="def on_payment_captured(e, c):\n    pass\n",
    token="t",
):
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=token,
        status=status,
        result=result if result is not None else dict(FAILED_RESULT),
    )


def test_the_catalogue_groups_exercises_by_module(client, exercise):
    html = client.get("/exercises/").content.decode()
    assert "Module 2: Transactional messaging" in html
    assert exercise.title in html and 'href="/exercises/idempotent-consumer/"' in html


def test_the_catalogue_shows_attempted_and_passed_badges(alice_client, alice, exercise):
    _submission(alice, exercise, status="failed")
    assert "badge attempted" in alice_client.get("/exercises/").content.decode()
    _submission(alice, exercise, status="passed", token="t2")
    assert "badge passed" in alice_client.get("/exercises/").content.decode()


def test_an_anonymous_visitor_sees_the_statement_and_an_invitation_to_log_in(client, exercise):
    html = client.get("/exercises/idempotent-consumer/").content.decode()
    assert "What the grader checks" in html
    assert "/accounts/login/?next=/exercises/idempotent-consumer/" in html
    # The editor and Run are open to anyone (tests/test_run_code.py); grading needs an account.
    assert 'name="code"' in html and "sign up</a> or" in html


def test_an_unknown_exercise_is_404(client, exercise):
    assert client.get("/exercises/no-such-exercise/").status_code == 404


def test_an_unpublished_exercise_is_404(client, exercise):
    Exercise.objects.filter(pk=exercise.pk).update(published_version=None)
    assert client.get("/exercises/idempotent-consumer/").status_code == 404


def test_a_learner_starts_from_the_starter_code(alice_client, exercise):
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert (
        'name="code"' in html
        and 'name="client_token"' in html
        and 'enctype="multipart/form-data"' in html
    )
    assert "What happens if this event arrives twice?" in html


def test_a_learner_gets_their_latest_submission_back_in_the_editor(alice_client, alice, exercise):
    _submission(alice, exercise, code="# my latest try\n")
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert "# my latest try" in html and "Your latest submission" in html


def test_hints_are_revealed_one_at_a_time(alice_client, alice, exercise):
    hints = [escape(hint) for hint in exercise.published_version.hints]
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert hints[0] not in html
    response = alice_client.post("/exercises/idempotent-consumer/hints/")
    assert response.status_code == 302 and response.url.endswith("#hints")
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert hints[0] in html and hints[1] not in html
    assert HintUse.objects.get(user=alice).revealed == 1


def test_hints_come_back_as_a_partial_for_htmx_and_stop_at_the_last(alice_client, alice, exercise):
    for _ in range(5):
        response = alice_client.post(
            "/exercises/idempotent-consumer/hints/", HTTP_HX_REQUEST="true"
        )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="hints"') and "That was the last hint." in html
    assert HintUse.objects.get(user=alice).revealed == 3


def test_hints_need_a_login(client, exercise):
    assert client.post("/exercises/idempotent-consumer/hints/").status_code == 302
    assert not HintUse.objects.exists()


def test_the_solution_is_hidden_until_a_pass(alice_client, alice, exercise):
    solution_line = 'tx.insert("processed", event.id'
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert "Show the reference solution" not in html
    _submission(alice, exercise, status="passed", result={**FAILED_RESULT, "status": "passed"})
    html = alice_client.get("/exercises/idempotent-consumer/").content.decode()
    assert (
        "Show the reference solution" in html
        and "processed" in html
        and solution_line.split("(")[0] in html
    )


def test_the_solution_is_revealed_after_enough_failed_attempts(alice_client, alice, exercise):
    for i in range(exercise.published_version.reveal_after):
        assert (
            "Show the reference solution"
            not in alice_client.get("/exercises/idempotent-consumer/").content.decode()
        )
        _submission(alice, exercise, token=f"t{i}")
    assert (
        "Show the reference solution"
        in alice_client.get("/exercises/idempotent-consumer/").content.decode()
    )


def test_the_feedback_shows_invariants_timeline_seed_output_and_exploration(
    alice_client, alice, exercise
):
    submission = _submission(alice, exercise)
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert "Confirmed exactly once" in html and "badge broken" in html and "badge held" in html
    assert "<svg" in html and "DUPLICATE" in html and "Seed <code>7</code>" in html
    assert "Replay this schedule" in html
    assert "&lt;b&gt;printed&lt;/b&gt; by the learner" in html
    assert "Explored 3 fault schedules: duplicate ×1" in html
    assert " style=" not in html and "<script>" not in html


def test_a_submission_in_flight_polls_and_a_finished_one_stops(alice_client, alice, exercise):
    submission = _submission(alice, exercise, status="running", result={})
    partial = alice_client.get(
        submission.get_absolute_url(), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<html" not in partial
    assert f'href="{submission.get_absolute_url()}">refresh</a>' in partial
    Submission.objects.filter(pk=submission.pk).update(status="failed", result=FAILED_RESULT)
    partial = alice_client.get(
        submission.get_absolute_url(), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in partial.split(">", 1)[0] and "Confirmed exactly once" in partial


def test_submission_pages_are_visible_only_to_their_owner(client, bob, alice, exercise):
    submission = _submission(alice, exercise)
    client.force_login(bob)
    assert client.get(submission.get_absolute_url()).status_code == 404
    assert client.post(submission.get_absolute_url() + "replay/").status_code == 404
    assert (
        submission.code
        not in client.get("/exercises/idempotent-consumer/history/").content.decode()
    )


def test_an_anonymous_visitor_is_sent_to_log_in_for_a_submission(client, alice, exercise):
    submission = _submission(alice, exercise)
    response = client.get(submission.get_absolute_url())
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_history_lists_submissions_with_a_diff_against_the_previous_one(
    alice_client, alice, exercise
):
    first = _submission(alice, exercise, code="a = 1\nb = 2\n", token="1")
    second = _submission(alice, exercise, code="a = 1\nb = 3\n", token="2")
    Submission.objects.filter(pk=first.pk).update(created_at=second.created_at.replace(year=2020))
    html = alice_client.get("/exercises/idempotent-consumer/history/").content.decode()
    assert '<span class="del">-b = 2</span>' in html and '<span class="add">+b = 3</span>' in html
    assert html.index(str(second.pk)) < html.index(str(first.pk))
    assert "Your first submission." in html


@pytest.fixture
def eager_tasks():
    """No worker here, even where a broker is configured (CI): tasks run in this process."""
    from courseapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_replaying_a_schedule_regrades_exactly_that_schedule_in_the_jail(
    alice_client, alice, exercise, settings, django_capture_on_commit_callbacks, eager_tasks
):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    submission = _submission(
        alice, exercise, status="queued", result={}, code=exercise.published_version.starter
    )
    grading.run_grading(submission.pk)
    submission.refresh_from_db()
    example = submission.counterexample
    # The replay is queued for a worker (here: run eagerly once the request's transaction commits).
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            submission.get_absolute_url() + "replay/", HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.content.decode()
    replay = submission.replays.get()
    # Embedded mode: the replay runs on the background pool, not in the request; wait for it.
    deadline = time.monotonic() + 120
    while not replay.is_done and time.monotonic() < deadline:
        time.sleep(0.1)
        replay.refresh_from_db()
    html = alice_client.get(replay.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert f"Replay of seed {example['seed']}" in html
    assert "badge failed" in html and "<svg" in html
    page = alice_client.get(
        alice_client.post(submission.get_absolute_url() + "replay/").url
    ).content.decode()
    assert "<h1>Replaying one schedule</h1>" in page


def test_a_pass_shows_the_reference_solution_beside_the_verdict(alice_client, alice, exercise):
    submission = _submission(
        alice,
        exercise,
        status="passed",
        result={**FAILED_RESULT, "status": "passed", "counterexample": None, "violations": []},
    )
    partial = alice_client.get(
        submission.get_absolute_url(), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Compare with the reference solution" in partial
    assert escape(exercise.published_version.solution.splitlines()[0]) in partial


def test_an_error_verdict_shows_invariants_as_not_checked_never_held(alice_client, alice, exercise):
    result = {
        **FAILED_RESULT,
        "status": "error",
        "counterexample": None,
        "violations": [],
        "schedules_explored": 0,
        "message": "SyntaxError on line 1: expected ':'",
        "invariants": [{**inv, "held": None} for inv in FAILED_RESULT["invariants"]],
    }
    submission = _submission(alice, exercise, status="error", result=result, token="syntax")
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert html.count("not checked") == 2
    assert 'class="badge held"' not in html and 'class="badge broken"' not in html
    assert "line 1" in html


# Verdicts that read at a glance.


def _error_result(message, held=None, status="error"):
    return {
        **FAILED_RESULT,
        "status": status,
        "counterexample": None,
        "violations": [],
        "schedules_explored": 0,
        "message": message,
        "invariants": [{**inv, "held": held} for inv in FAILED_RESULT["invariants"]],
    }


@pytest.mark.parametrize("status", ["error", "timeout"])
def test_a_verdict_that_did_not_finish_never_says_held_even_if_its_report_does(
    alice_client, alice, exercise, status
):
    result = _error_result("your code ran past 10 s of wall time", held=True, status=status)
    submission = _submission(alice, exercise, status="error", result=result)
    for html in (
        alice_client.get(submission.get_absolute_url()).content.decode(),
        alice_client.get("/exercises/idempotent-consumer/").content.decode(),
    ):
        assert html.count('class="badge unchecked">not checked') == 2
        assert 'class="badge held"' not in html and "no invariant was checked" in html


def test_an_error_verdict_shows_the_line_of_the_learners_code_it_names(
    alice_client, alice, exercise
):
    code = "import json\n\ndef on_payment_captured(event, ctx)\n    pass\n"
    result = _error_result(
        "SyntaxError on line 3: expected ':' (def on_payment_captured(event, ctx))"
    )
    submission = _submission(alice, exercise, status="error", result=result, code=code)
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert 'data-error-line="3"' in html and "Line 3 of your code" in html
    assert '<span class="error-hit">' in html
    hit = html.split('<span class="error-hit">', 1)[1].split("</span></span>", 1)[0]
    assert "3 | def on_payment_captured(event, ctx)" in hit


def test_a_failed_run_whose_code_raised_shows_the_line_it_raised_on(alice_client, alice, exercise):
    code = "def on_payment_captured(event, ctx):\n    x = event.data['nope']\n"
    result = {
        **FAILED_RESULT,
        "message": "No lost event broke: order o1 was paid but is PENDING. It breaks even without "
        "any fault. Your code raised an exception: on_payment_captured(): KeyError: 'nope' "
        "(line 2, in on_payment_captured:)",
    }
    submission = _submission(alice, exercise, result=result, code=code)
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert 'data-error-line="2"' in html and "x = event.data[&#x27;nope&#x27;]" in html


def test_a_line_number_past_the_end_of_the_code_shows_no_excerpt(alice_client, alice, exercise):
    result = _error_result("SyntaxError on line 40: unexpected EOF")
    submission = _submission(alice, exercise, status="error", result=result, code="x = (\n")
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert "data-error-line" not in html and "line 40" in html


def test_the_fault_line_and_the_summary_of_a_verdict_say_the_same_words(
    alice_client, alice, exercise
):
    from sandbox import grade

    starter = (
        CONTENT_DIR.parent.parent / "sandbox/scenarios/idempotent_charge/starter.py"
    ).read_text()
    result = {**grade("idempotent_charge", starter, random_schedules=0), "jailed": True}
    submission = _submission(alice, exercise, result=result)
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    fault_line = html.split('<p class="fault-line">', 1)[1].split("</p>", 1)[0]
    summary = html.split('<p class="verdict-message">', 1)[1].split("</p>", 1)[0]
    said = re.findall(r'<span class="fault">([^<]*)</span>', fault_line)
    assert said and all(text in summary for text in said)
    assert "after 1 effect(s)" in fault_line and "before effect" not in html


def test_a_verdict_highlights_the_steps_of_what_broke_and_lists_them_in_the_table(
    alice_client, alice, exercise
):
    trace = [
        {
            "t": 0,
            "service": "payment",
            "kind": "publish",
            "message_id": "m1",
            "correlation_id": "c1",
            "detail": "PaymentCaptured order_id=ord-1a2b3c, amount=3",
        },
        {
            "t": 5,
            "service": "order",
            "kind": "deliver",
            "message_id": "m1",
            "correlation_id": "c1",
            "detail": "PaymentCaptured -> on_payment_captured()",
        },
    ]
    result = {
        **FAILED_RESULT,
        "violations": [
            {**FAILED_RESULT["violations"][0], "detail": "order ord-1a2b3c was confirmed 2 times"}
        ],
        "counterexample": {"seed": 1, "schedule": [], "trace": trace},
    }
    submission = _submission(alice, exercise, result=result)
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    # Two highlighted steps in each of the timeline's two drawings, and two rows of the table.
    assert html.count('class="tl-row tl-hit"') == 4 and html.count('<tr class="involved">') == 2
    assert "m1 (order_id=ord-1a2b3c)" in html  # the table says what the delivery carries


# Any version back into the editor.


def test_a_learner_loads_an_older_submission_back_into_the_editor(alice_client, alice, exercise):
    old = _submission(alice, exercise, code="# my first try\n", token="1")
    _submission(alice, exercise, code="# my latest try\n", token="2")
    html = alice_client.get(f"/exercises/idempotent-consumer/?from={old.pk}").content.decode()
    editor = html.split('name="code"', 1)[1].split("</textarea>", 1)[0]
    assert "# my first try" in editor and "# my latest try" not in editor
    assert "The submission you loaded into the editor" in html
    assert f'href="{old.get_absolute_url()}"' in html  # its own verdict is shown under it


def test_a_learner_cannot_load_another_learners_submission(client, alice, bob, exercise):
    secret = _submission(alice, exercise, code="# alice's secret\n")
    client.force_login(bob)
    response = client.get(f"/exercises/idempotent-consumer/?from={secret.pk}")
    assert response.status_code == 404 and "alice&#x27;s secret" not in response.content.decode()


def test_loading_needs_a_submission_of_this_exercise_and_a_real_id(alice_client, alice, exercise):
    other = Exercise.objects.exclude(pk=exercise.pk).published().first()
    elsewhere = _submission(alice, other, code="# another exercise\n")
    assert (
        alice_client.get(f"/exercises/idempotent-consumer/?from={elsewhere.pk}").status_code == 404
    )
    assert alice_client.get("/exercises/idempotent-consumer/?from=not-a-uuid").status_code == 404


def test_an_anonymous_visitor_who_loads_a_submission_is_sent_to_log_in(client, alice, exercise):
    item = _submission(alice, exercise)
    response = client.get(f"/exercises/idempotent-consumer/?from={item.pk}")
    assert response.status_code == 302 and "/accounts/login/?next=" in response.url
    assert str(item.pk) in response.url


def test_a_submission_page_offers_to_load_its_code_into_the_editor(alice_client, alice, exercise):
    item = _submission(alice, exercise)
    html = alice_client.get(item.get_absolute_url()).content.decode()
    assert f'href="/exercises/idempotent-consumer/?from={item.pk}">Load into editor' in html


def test_compare_with_the_reference_is_a_diff_shown_only_once_the_reference_is_revealed(
    alice_client, alice, exercise
):
    item = _submission(alice, exercise, code="def on_payment_captured(event, ctx):\n    pass\n")
    html = alice_client.get(item.get_absolute_url()).content.decode()
    assert "Compare with the reference solution" not in html
    for i in range(exercise.published_version.reveal_after):
        _submission(alice, exercise, token=f"f{i}")
    html = alice_client.get(item.get_absolute_url()).content.decode()
    compare = html.split('<details class="solution-compare">', 1)[1].split("</details>", 1)[0]
    assert '<span class="del">-    pass</span>' in compare
    first = exercise.published_version.solution.splitlines()[0]
    assert escape(first) in compare and '<span class="add">' in compare


# Exercise cards: status, difficulty and a time estimate.


def test_every_exercise_states_its_difficulty_and_a_time_estimate(exercise):
    for item in Exercise.objects.published():
        assert item.difficulty in {"introductory", "intermediate", "advanced"}, item.slug
        assert item.minutes and 5 <= item.minutes <= 120, item.slug


def test_a_card_shows_status_difficulty_and_time(alice_client, alice, exercise):
    def card(html, slug="idempotent-consumer"):
        return html.split(f'data-slug="{slug}"', 1)[1].split("</li>", 1)[0]

    html = alice_client.get("/exercises/").content.decode()
    assert "Not started" in card(html)
    assert exercise.get_difficulty_display() in card(html)
    assert f"about {exercise.minutes} min" in card(html)
    _submission(alice, exercise, status="failed")
    assert "Attempted" in card(alice_client.get("/exercises/").content.decode())
    _submission(alice, exercise, status="passed", token="t2")
    html = alice_client.get("/exercises/").content.decode()
    assert "Passed" in card(html) and "Not started" in card(html, "two-phase-commit")


@pytest.mark.parametrize(
    "line, error",
    [
        ("difficulty: hard", "difficulty must be one of"),
        ("minutes: 0", "minutes must be a whole number"),
        ("minutes: half an hour", "minutes must be a whole number"),
    ],
)
def test_the_loader_refuses_a_bad_difficulty_or_time(tmp_path, line, error):
    from courseapp.lib.content import ContentError
    from exercises.content_loader import read_exercise

    source = CONTENT_DIR / "idempotent-consumer"
    target = tmp_path / "idempotent-consumer"
    shutil.copytree(source, target)
    meta = target / "exercise.yaml"
    kept = [
        ln for ln in meta.read_text().splitlines() if not ln.startswith(("difficulty:", "minutes:"))
    ]
    meta.write_text("\n".join([*kept, line]) + "\n")
    with pytest.raises(ContentError, match=error):
        read_exercise(target)


def test_difficulty_and_time_are_optional_and_not_part_of_the_graded_version(tmp_path):
    from exercises.content_loader import read_exercise

    target = tmp_path / "idempotent-consumer"
    shutil.copytree(CONTENT_DIR / "idempotent-consumer", target)
    with_them = read_exercise(target)
    meta = target / "exercise.yaml"
    kept = [
        ln for ln in meta.read_text().splitlines() if not ln.startswith(("difficulty:", "minutes:"))
    ]
    meta.write_text("\n".join(kept) + "\n")
    without = read_exercise(target)
    assert (without.difficulty, without.minutes) == ("", None)
    assert with_them.content_hash() == without.content_hash()
