"""An error verdict never looks like success: invariants that were not checked say so, and the
message points at the learner's line."""

import sandbox


def test_a_syntax_error_reads_not_checked_and_names_the_line():
    report = sandbox.grade(
        "idempotent_consumer",
        "def on_payment_captured(event, ctx)\n    pass\n",
        random_schedules=10,
    )
    assert report["status"] == "error"
    assert "line 1" in report["message"]
    assert report["schedules_explored"] == 0
    assert report["invariants"] and all(inv["held"] is None for inv in report["invariants"])


def test_a_runtime_error_points_at_the_learners_line():
    source = (
        "def on_payment_captured(event, ctx):\n"
        "    order = event.data['order_id']\n"
        "    return event.data['no_such_field']\n"
    )
    report = sandbox.grade("idempotent_consumer", source, random_schedules=10)
    assert report["status"] == "failed"
    assert "KeyError" in report["message"] and "line 3" in report["message"]


def test_a_pass_says_every_invariant_held():
    source = sandbox.scenarios.get("idempotent_consumer").reference_source
    report = sandbox.grade("idempotent_consumer", source, random_schedules=20)
    assert report["status"] == "passed"
    assert all(inv["held"] is True for inv in report["invariants"])


def test_a_run_that_exhausts_its_budget_fails_the_same_way_when_replayed():
    # The budget of a run counts every call into learner code, answered from the cache or not,
    # so a replayed counterexample ends exactly as the search found it.
    source = (
        "from saga_api import RetryLater\n"
        "def on_payment_captured(event, ctx):\n"
        "    raise RetryLater(1)\n"
    )
    report = sandbox.grade("idempotent_consumer", source, random_schedules=20)
    assert report["status"] == "failed"
    assert "settles" in [v["name"] for v in report["violations"]]
    example = report["counterexample"]
    again = sandbox.replay("idempotent_consumer", source, example["seed"], example["schedule"])
    assert again["status"] == "failed"
    assert "settles" in [v["name"] for v in again["violations"]]


def test_a_correct_checkout_that_polls_shipping_often_is_not_too_much_work():
    # Polling a down service every 200 ms stays far inside the per-run budget the statement
    # gives; the grading as a whole must not call it "too much work" either.
    source = sandbox.scenarios.get("shipping_down").reference_source
    fast = source.replace("RetryLater(500)", "RetryLater(200)").replace(
        "RetryLater(300)", "RetryLater(200)"
    )
    assert fast != source
    report = sandbox.grade("shipping_down", fast, random_schedules=500)
    assert report["status"] == "passed", report["message"]
