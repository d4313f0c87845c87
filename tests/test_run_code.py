"""Run before you submit: the code in the editor runs once, on a calm schedule or a chosen seed and
fault schedule, in the same jail as grading, on a worker (the short queue), never in the request.
A run is not a submission (no row, no progress, no history), is rate limited apart from submissions
(per account or visitor, per address; anonymous visitors too), and every refusal keeps the code."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from courseapp.lib.content import LoadReport
from exercises import grading, runs
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Replay, Submission
from exercises.tasks import run_code
from tests.conftest import need

PAGE = "/exercises/idempotent-consumer/"
RUN = PAGE + "run/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def exercise(db, settings, embedded_mode):
    settings.SANDBOX_RANDOM_SCHEDULES = 20
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


@pytest.fixture
def jail(settings):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.SANDBOX_ALLOW_UNJAILED = False


@pytest.fixture
def queued(monkeypatch):
    """Runs are sent but no worker takes them (the list holds what was sent)."""
    sent: list[str] = []
    monkeypatch.setattr(run_code, "delay", sent.append)
    return sent


@pytest.fixture
def no_grading_here(monkeypatch):
    monkeypatch.setattr(
        grading, "grade_code", lambda *a, **k: pytest.fail("graded inside the web request")
    )


def _run(client, code, seed="", faults="", **extra):
    return client.post(RUN, {"code": code, "seed": seed, "faults": faults}, **extra)


def _run_id(client) -> str:
    return client.session[runs.SESSION_RUNS][-1]


def _finish(client) -> str:
    """What a worker does with the visitor's last run."""
    return runs.execute(_run_id(client))


# -- on the page ------------------------------------------------------------------------------


def test_anonymous_visitors_and_learners_get_the_editor_with_a_run_button(
    client, alice_client, exercise
):
    for visitor in (client, alice_client):
        html = visitor.get(PAGE).content.decode()
        assert 'name="code"' in html and 'id="run-button"' in html
        assert f'hx-post="{RUN}"' in html and f'formaction="{RUN}"' in html
        # Run comes first, so Enter in the seed field runs rather than submits.
        assert html.index('id="run-button"') < html.index(">Submit for grading<")


def test_the_page_states_the_limits_and_kinds_from_the_code_that_enforces_them(
    client, exercise, settings
):
    settings.RUN_RATE_LIMIT = "7/m/user,25/5m/ip"
    html = client.get(PAGE).content.decode()
    assert (
        "7 runs a minute per account or visitor; 25 runs every 5 minutes per network address"
        in html
    )
    options = grading.grading_options(exercise.published_version)
    assert f"then {options['random_schedules']} random fault schedules" in html
    assert f'max="{runs.MAX_SEED}"' in html
    for kind in ("crash", "duplicate", "delay"):
        assert f"<code>{kind}</code>" in html


# -- never in the request, never a submission ---------------------------------------------------


def test_a_run_is_queued_for_a_worker_and_nothing_runs_in_the_request(
    client, exercise, queued, no_grading_here
):
    response = _run(client, exercise.published_version.starter, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert queued == [_run_id(client)]
    assert f'hx-get="/exercises/runs/{queued[0]}/" hx-trigger="every 1s"' in html
    assert "waiting for a grader" in html


def test_runs_go_to_the_short_queue_and_are_acknowledged_on_receipt():
    from courseapp.celery import app

    assert app.amqp.router.route({}, "exercises.tasks.run_code")["queue"].name == "short"
    assert run_code.acks_late is False


def test_a_run_is_not_a_submission(alice_client, alice, exercise, jail, queued):
    response = _run(alice_client, exercise.published_version.starter, **HTMX)
    assert response.status_code == 200
    assert _finish(alice_client) in ("passed", "failed")
    assert not Submission.objects.exists() and not Replay.objects.exists()
    assert "badge attempted" not in alice_client.get("/exercises/").content.decode()
    history = alice_client.get(PAGE + "history/").content.decode()
    assert "Run of seed" not in history


# -- what runs ---------------------------------------------------------------------------------


def test_a_calm_run_runs_the_editor_code_in_the_jail_and_shows_its_trace(
    client, exercise, jail, queued
):
    code = exercise.published_version.solution + "\nprint('hello from the editor')\n"
    _run(client, code, **HTMX)
    assert _finish(client) == "passed"
    entry = runs.get(_request_for(client), _run_id(client))
    assert entry["result"]["jailed"] is True and entry["schedule"] == []
    html = client.get(f"/exercises/runs/{_run_id(client)}/", **HTMX).content.decode()
    assert "hx-trigger" not in html and "Run of seed 0, no faults" in html
    assert "<svg" in html and 'class="trace-table"' in html
    assert "hello from the editor" in html
    assert "This was a run, not a submission" in html


def test_a_counterexample_schedule_replayed_on_edited_code_runs_exactly_that_schedule(
    client, exercise, jail, queued
):
    version = exercise.published_version
    buggy = version.variants["dedup_after_effect"]["source"]  # breaks only when order crashes
    graded = grading.grade_code(version, buggy)
    example = graded["counterexample"]
    assert graded["status"] == "failed" and example["schedule"]
    broken = {v["name"] for v in graded["violations"]}
    seed, faults = str(example["seed"]), json.dumps(example["schedule"])

    # Calm, the buggy code keeps every invariant; on the failing schedule the same invariant breaks.
    _run(client, buggy, seed, **HTMX)
    assert _finish(client) == "passed"
    _run(client, buggy, seed, faults, **HTMX)
    assert _finish(client) == "failed"
    html = client.get(f"/exercises/runs/{_run_id(client)}/", **HTMX).content.decode()
    assert f'Run of seed {example["seed"]}, faults: <span class="fault">' in html
    assert "badge broken" in html and "crashed" in html
    entry = runs.get(_request_for(client), _run_id(client))
    assert entry["schedule"] == example["schedule"]
    assert {v["name"] for v in entry["result"]["violations"]} == broken

    # The fix, edited into the editor, on the same schedule: it holds.
    _run(client, version.solution, seed, faults, **HTMX)
    assert _finish(client) == "passed"


def test_code_that_raises_marks_its_line_in_the_run(client, exercise, jail, queued):
    code = "def on_payment_captured(event, ctx):\n    x = 1\n    raise ValueError('boom')\n"
    _run(client, code, **HTMX)
    _finish(client)
    html = client.get(f"/exercises/runs/{_run_id(client)}/", **HTMX).content.decode()
    assert 'data-error-line="3"' in html and "Line 3 of the code you ran" in html


def test_a_run_whose_grader_crashes_ends_as_an_error_not_a_crashed_task(
    client, exercise, queued, monkeypatch
):
    _run(client, exercise.published_version.starter)
    monkeypatch.setattr(grading, "grade_code", lambda *a, **k: 1 / 0)
    assert runs.execute(queued[0]) == "error"
    assert runs.execute(queued[0]) == "done"  # a second delivery changes nothing
    html = client.get(f"/exercises/runs/{queued[0]}/", **HTMX).content.decode()
    assert "This is our bug, not yours" in html


# -- without JavaScript -------------------------------------------------------------------------


def test_without_javascript_the_page_keeps_the_code_and_refreshes_until_the_run_is_done(
    client, exercise, jail, queued
):
    code = exercise.published_version.starter + "\n# my edit\n"
    response = _run(client, code, "5")
    run_id = _run_id(client)
    assert response.status_code == 302 and response.url == f"{PAGE}?run={run_id}#run"
    page = client.get(f"{PAGE}?run={run_id}").content.decode()
    # It refreshes through the run's own URL, which sends it back here (a refresh to the same
    # URL with its #run fragment would only scroll).
    refresh = f'<noscript><meta http-equiv="refresh" content="2;url=/exercises/runs/{run_id}/">'
    assert refresh in page
    assert "# my edit" in page and "waiting for a grader" in page and 'value="5"' in page
    _finish(client)
    page = client.get(f"{PAGE}?run={run_id}").content.decode()
    assert "http-equiv" not in page and "Run of seed 5, no faults" in page and "# my edit" in page
    # The status URL sends a browser without htmx to that page.
    assert client.get(f"/exercises/runs/{run_id}/").url == f"{PAGE}?run={run_id}#run"


def test_replay_this_schedule_on_the_exercise_page_loads_the_schedule_into_run(
    alice_client, alice, exercise
):
    schedule = [{"kind": "duplicate", "site": "order.on_payment_captured:PaymentCaptured#1"}]
    result = {
        "status": "failed",
        "message": "broke",
        "invariants": [],
        "counterexample": {"seed": 123, "schedule": schedule, "trace": []},
    }
    Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x = 1\n",
        client_token="t",
        status="failed",
        result=result,
    )
    html = alice_client.get(PAGE).content.decode()
    assert (
        'class="replay-form" data-load-schedule' in html and 'name="run_seed" value="123"' in html
    )
    # Without JavaScript it is a link to this page with the seed and faults in the Run form.
    query = {"run_seed": "123", "run_faults": json.dumps(schedule)}
    page = alice_client.get(PAGE, query).content.decode()
    assert 'id="run-seed" name="seed"' in page and 'value="123"' in page
    assert "order.on_payment_captured:PaymentCaptured#1" in page
    # The submission's own page still replays the submitted code.
    submission = Submission.objects.get()
    assert f'action="{submission.get_absolute_url()}replay/"' in (
        alice_client.get(submission.get_absolute_url()).content.decode()
    )


def test_a_malformed_schedule_link_leaves_the_run_form_at_its_defaults(client, exercise):
    page = client.get(PAGE, {"run_seed": "-4", "run_faults": "{"}).content.decode()
    assert "could not be read" in page and 'value="0"' in page


# -- bad input: clear errors, the code kept ------------------------------------------------------


@pytest.mark.parametrize(
    "seed, faults, status, says",
    [
        ("", "not json", 400, "not valid JSON"),
        ("", '{"kind": "crash"}', 400, "must be a JSON list"),
        ("", '[{"kind": "meteor", "site": "x"}]', 400, "not a fault this exercise can inject"),
        ("", '[{"kind": "crash", "site": ""}]', 400, "needs a site"),
        ("", '[{"kind": "crash", "site": "x", "at": -1}]', 400, "at must be a whole number"),
        ("", '[{"kind": "crash", "site": "x", "at": "1"}]', 400, "at must be a whole number"),
        ("", '[{"kind": "crash", "site": "x", "why": 1}]', 400, "unknown fields: why"),
        ("", json.dumps([{"kind": "crash", "site": "x"}] * 21), 400, "at most 20 can run"),
        ("-1", "", 400, "The seed must be a whole number"),
        ("2147483648", "", 400, "The seed must be a whole number"),
        ("seven", "", 400, "The seed must be a whole number"),
    ],
)
def test_a_tampered_seed_or_schedule_is_refused_and_the_code_kept(
    client, exercise, queued, seed, faults, status, says
):
    code = "def on_payment_captured(event, ctx):\n    pass  # mine\n"
    response = _run(client, code, seed, faults)
    html = response.content.decode()
    assert response.status_code == status and says in html
    assert "pass  # mine" in html and 'id="run-refused"' in html
    assert queued == []
    partial = _run(client, code, seed, faults, **HTMX)
    assert partial.status_code == status and partial["X-Run-Refusal"] == "1"
    assert says in partial.content.decode() and "<html" not in partial.content.decode()


def test_empty_code_is_refused(client, exercise, queued):
    response = _run(client, "   \n", **HTMX)
    assert response.status_code == 400 and "There is no code to run" in response.content.decode()
    assert queued == []


def test_oversized_code_is_refused_and_kept(client, exercise, queued):
    code = "# big\n" + "x = 1\n" * (grading.MAX_CODE_BYTES // 6 + 10)
    response = _run(client, code)
    html = response.content.decode()
    assert response.status_code == 413 and "the limit is 64 KiB" in html and "# big" in html
    assert queued == []


def test_an_upload_that_is_not_utf8_is_refused(client, exercise, queued):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("bad.py", b"x = '\xff\xfe'\n")
    response = client.post(RUN, {"code": "def mine(): pass\n", "upload": upload})
    html = response.content.decode()
    assert response.status_code == 400 and "is not UTF-8 text" in html
    assert "def mine(): pass" in html and queued == []


def test_an_uploaded_file_runs_and_comes_back_in_the_editor(client, exercise, queued):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("mine.py", b"def on_payment_captured(e, c):\n    pass  # file\n")
    response = client.post(RUN, {"code": "", "upload": upload}, **HTMX)
    run_id = _run_id(client)
    assert response.status_code == 204 and response["HX-Redirect"] == f"{PAGE}?run={run_id}#run"
    assert "pass  # file" in client.get(f"{PAGE}?run={run_id}").content.decode()


def test_an_unknown_exercise_is_a_clear_404(client, exercise, queued):
    assert client.post("/exercises/no-such-exercise/run/", {"code": "x"}).status_code == 404
    partial = client.post("/exercises/no-such-exercise/run/", {"code": "x"}, **HTMX)
    assert partial.status_code == 404 and partial["X-Run-Refusal"] == "1"
    assert "no published exercise at this address" in partial.content.decode()


def test_run_only_accepts_posts(client, exercise):
    assert client.get(RUN).status_code == 405


# -- limits ------------------------------------------------------------------------------------


def _done(client):
    """Mark the visitor's last run finished, so the next one is not refused as in flight."""
    from django.core.cache import cache

    key = f"exercises:run:{_run_id(client)}"
    cache.set(key, {**cache.get(key), "status": runs.DONE, "result": {"status": "passed"}})


def test_runs_are_rate_limited_per_account_with_a_clear_429(
    alice_client, exercise, queued, settings
):
    settings.RUN_RATE_LIMIT = "2/m/user,100/m/ip"
    for _ in range(2):
        assert _run(alice_client, "x = 1\n", **HTMX).status_code == 200
        _done(alice_client)
    response = _run(alice_client, "x = 1  # third\n")
    html = response.content.decode()
    assert response.status_code == 429 and "the limit is 2 runs a minute per account" in html
    assert "x = 1  # third" in html and len(queued) == 2


def test_anonymous_visitors_are_rate_limited_by_address(exercise, queued, settings):
    settings.RUN_RATE_LIMIT = "100/m/user,2/m/ip"
    same_address = [Client(REMOTE_ADDR="203.0.113.7") for _ in range(3)]
    assert _run(same_address[0], "x = 1\n").status_code == 302
    assert _run(same_address[1], "x = 1\n").status_code == 302
    refused = _run(same_address[2], "x = 1\n", **HTMX)
    assert refused.status_code == 429 and refused["X-Run-Refusal"] == "1"
    assert "2 runs a minute per network address" in refused.content.decode()
    assert _run(Client(REMOTE_ADDR="198.51.100.9"), "x = 1\n").status_code == 302


def test_runs_do_not_use_up_submissions_or_the_other_way_round(
    alice_client, alice, exercise, queued, settings, monkeypatch
):
    settings.RUN_RATE_LIMIT = "1/m/user"
    monkeypatch.setattr("exercises.dispatch.send_grading", lambda *a: True)
    assert _run(alice_client, "x = 1\n").status_code == 302
    response = alice_client.post(PAGE + "submit/", {"code": "x = 1\n", "client_token": "s1"})
    assert response.status_code == 302 and Submission.objects.count() == 1


def test_one_run_in_flight_per_visitor_a_second_click_shows_the_first(client, exercise, queued):
    _run(client, "x = 1\n", **HTMX)
    again = _run(client, "x = 2\n", **HTMX).content.decode()
    assert len(queued) == 1 and "Your previous run is still going" in again


def test_runs_in_flight_per_address_are_capped(exercise, queued, settings):
    settings.RUN_IN_FLIGHT_PER_ADDRESS = 2
    clients = [Client(REMOTE_ADDR="203.0.113.8") for _ in range(3)]
    assert [_run(c, "x = 1\n").status_code for c in clients] == [302, 302, 429]
    assert "already waiting for a grader" in _run(clients[2], "x = 1\n").content.decode()


def test_rates_use_allauth_syntax_and_a_bad_one_stops_with_a_clear_message():
    rates = runs.parse_rates("10/m/user, 30/5m/ip,200/d/ip")
    assert [(r.amount, r.seconds, r.key) for r in rates] == [
        (10, 60, "user"),
        (30, 300, "ip"),
        (200, 86400, "ip"),
    ]
    assert rates[2].describe() == "200 runs a day per network address"
    with pytest.raises(ImproperlyConfigured, match="RUN_RATE_LIMIT"):
        runs.parse_rates("ten a minute")


def test_the_default_rate_limit_parses():
    from django.conf import settings

    assert runs.parse_rates(settings.RUN_RATE_LIMIT)


# -- whose run it is, and runs that are gone -----------------------------------------------------


def test_a_run_can_only_be_read_by_the_visitor_who_started_it(client, exercise, queued):
    _run(client, "x = 1\n")
    other = Client()
    assert other.get(f"/exercises/runs/{queued[0]}/").status_code == 404
    partial = other.get(f"/exercises/runs/{queued[0]}/", **HTMX)
    assert partial.status_code == 404 and partial["X-Run-Refusal"] == "1"
    assert "x = 1" not in other.get(f"{PAGE}?run={queued[0]}").content.decode()


def test_an_overdue_run_says_it_was_lost(client, exercise, queued, settings):
    from django.core.cache import cache

    _run(client, "x = 1\n")
    key = f"exercises:run:{queued[0]}"
    entry = cache.get(key)
    cache.set(key, {**entry, "created": entry["created"] - settings.EXERCISES_REDISPATCH_AFTER - 1})
    html = client.get(f"/exercises/runs/{queued[0]}/", **HTMX).content.decode()
    assert "This run was lost" in html and "hx-trigger" not in html
    assert _run(client, "x = 2\n").status_code == 302 and len(queued) == 2


def test_workers_without_a_shared_cache_cannot_hand_runs_back_so_run_says_so(
    client, exercise, queued, settings
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CACHE_URL = ""
    response = _run(client, "x = 1\n", **HTMX)
    assert response.status_code == 503 and "CACHE_URL is not set" in response.content.decode()
    assert queued == []


def test_an_unreachable_queue_is_a_clear_503(client, exercise, monkeypatch):
    def refuse(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(run_code, "delay", refuse)
    response = _run(client, "def mine(): pass\n")
    html = response.content.decode()
    assert response.status_code == 503 and "could not be reached" in html and "def mine()" in html


def _request_for(client):
    """A request carrying the client's session, for reading runs the way the views do."""
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = client.session
    return request
