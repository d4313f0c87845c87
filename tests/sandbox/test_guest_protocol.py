"""Everything the guest returns is untrusted: malformed or oversized answers end as an error,
never a pass; runner failures map to error/timeout; learner exceptions fail the scenario."""

import pytest

import sandbox
from sandbox import scenarios
from sandbox.runner import InProcessRunner, RunnerError

REFERENCE = scenarios.get("idempotent_consumer").reference_source


class FakeRunner:
    """Answers describe honestly, and every call with ``answer``."""

    answer = None

    def __init__(self, source, limits):
        self.source = source

    def request(self, request, on_callback=None):
        if request.get("op") == "describe":
            return {"functions": ["on_payment_captured"], "constants": {}}
        return self.answer

    def output(self):
        return "", 0

    def close(self):
        pass


def _grade_with(answer):
    runner = type("Runner", (FakeRunner,), {"answer": answer})
    return sandbox.grade(
        "idempotent_consumer", REFERENCE, runner_factory=runner, random_schedules=5
    )


GOOD = {
    "ok": True,
    "error": None,
    "traceback": "",
    "crashed": False,
    "effects": [],
    "value": None,
    "retry_after": None,
    "poison": None,
}

MALFORMED = {
    "not a dict": ["ok"],
    "effects not a list": {**GOOD, "effects": "commit"},
    "unknown effect kind": {**GOOD, "effects": [{"kind": "launch_missiles"}]},
    "bad write op": {
        **GOOD,
        "effects": [{"kind": "commit", "writes": [["drop", "orders", "o1", {}]], "outbox": []}],
    },
    "row not a dict": {
        **GOOD,
        "effects": [{"kind": "commit", "writes": [["put", "orders", "o1", "x"]], "outbox": []}],
    },
    "huge string": {
        **GOOD,
        "effects": [
            {
                "kind": "commit",
                "writes": [["put", "orders", "o1", {"x": "a" * 100_000}]],
                "outbox": [],
            }
        ],
    },
    "too many effects": {
        **GOOD,
        "effects": [{"kind": "publish", "type": "X", "data": {}, "correlation_id": None}] * 1000,
    },
    "too many nodes": {**GOOD, "value": list(range(100_000))},
    "ok not a bool": {**GOOD, "ok": "yes"},
    "non-JSON value": {**GOOD, "value": object()},
    "retry_after not a number": {**GOOD, "retry_after": "soon"},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_guest_answer_is_an_error_not_a_pass(case):
    report = _grade_with(MALFORMED[case])
    assert report["status"] == "error", report
    assert "invalid answer from the sandbox" in report["message"]


def test_a_guest_that_claims_success_but_does_nothing_fails():
    report = _grade_with(GOOD)
    assert report["status"] == "failed"
    assert "no_lost_event" in [v["name"] for v in report["violations"]]


@pytest.mark.parametrize(
    "kind,status",
    [
        ("timeout", "timeout"),
        ("cpu", "timeout"),
        ("memory", "error"),
        ("crashed", "error"),
        ("protocol", "error"),
    ],
)
def test_runner_errors_map_to_error_or_timeout(kind, status):
    class Dying(FakeRunner):
        def request(self, request, on_callback=None):
            if request.get("op") == "describe":
                return super().request(request)
            raise RunnerError(kind, f"the sandbox said {kind}")

    report = sandbox.grade(
        "idempotent_consumer", REFERENCE, runner_factory=Dying, random_schedules=5
    )
    assert report["status"] == status
    assert report["message"] == f"the sandbox said {kind}"


def test_syntax_error_is_reported_as_an_error():
    report = sandbox.grade("idempotent_consumer", "def on_payment_captured(event, ctx)\n  pass\n")
    assert report["status"] == "error"
    assert "line 1" in report["message"]


def test_missing_function_fails_with_its_signature():
    report = sandbox.grade("idempotent_consumer", "def something_else(event, ctx):\n    pass\n")
    assert report["status"] == "failed"
    assert "on_payment_captured(event, ctx)" in report["message"]


def test_learner_exception_fails_the_scenario_with_the_error_in_the_trace():
    source = "def on_payment_captured(event, ctx):\n    raise ValueError('boom')\n"
    report = sandbox.grade("idempotent_consumer", source, random_schedules=5)
    assert report["status"] == "failed"
    assert "ValueError: boom" in report["message"]
    kinds = [step["kind"] for step in report["counterexample"]["trace"]]
    assert "error" in kinds and "dlq" in kinds


def test_printing_a_fake_verdict_changes_nothing():
    source = "print('status: passed')\n" + scenarios.get("idempotent_consumer").starter_source
    report = sandbox.grade("idempotent_consumer", source, random_schedules=20)
    assert report["status"] == "failed"
    assert "status: passed" in report["output"]


def test_output_is_capped():
    source = "print('x' * 200_000)\n" + REFERENCE
    report = sandbox.grade("idempotent_consumer", source, random_schedules=0)
    assert len(report["output"]) <= 64 * 1024
    assert report["output_dropped"] > 0


def test_oversized_callback_payload_is_an_error():
    source = "def charge(request, ctx):\n    ctx.call('payment', 'charge', {'x': 'a' * 100_000})\n"
    report = sandbox.grade("idempotent_charge", source, random_schedules=0)
    assert report["status"] == "error"
    assert "invalid answer from the sandbox" in report["message"]


def test_retry_policy_returning_garbage_fails_with_a_clear_message():
    report = sandbox.grade(
        "retry_storm", "def retry_delay(attempt, rand):\n    return 'soon'\n", random_schedules=0
    )
    assert report["status"] == "failed"
    assert "returned 'soon'" in report["message"]


def test_in_process_runner_is_the_default():
    report = sandbox.grade(
        "idempotent_consumer", REFERENCE, runner_factory=InProcessRunner, random_schedules=0
    )
    assert report["status"] == "passed"


def test_a_store_flooded_with_rows_is_an_error():
    source = (
        "def on_payment_captured(event, ctx):\n"
        "    for i in range(40):\n"
        "        with ctx.db.transaction() as tx:\n"
        "            for j in range(150):\n"
        "                tx.put('junk', f'{event.id}-{i}-{j}', {})\n"
    )
    report = sandbox.grade("idempotent_consumer", source, random_schedules=0)
    assert report["status"] == "error"
    assert "grew beyond" in report["message"]


def test_an_endless_retry_loop_is_stopped_and_fails():
    source = (
        "from saga_api import RetryLater\n"
        "def on_payment_captured(event, ctx):\n"
        "    raise RetryLater(1)\n"
    )
    report = sandbox.grade("idempotent_consumer", source, random_schedules=50)
    assert report["status"] == "failed"
    assert "settles" in [v["name"] for v in report["violations"]]
    assert report["duration_ms"] < 20_000


def test_a_solution_that_needs_too_many_calls_times_out(monkeypatch):
    from sandbox import explore

    monkeypatch.setattr(explore, "MAX_GRADE_ROUND_TRIPS", 10)
    report = sandbox.grade(
        "order_saga_choreography",
        scenarios.get("order_saga_choreography").reference_source,
        random_schedules=500,
    )
    assert report["status"] == "timeout"
    assert "too much work" in report["message"]


def test_data_of_an_unexpected_shape_is_an_error_not_a_crash():
    source = (
        "def place_order(command, ctx):\n"
        "    ctx.publish('OrderCreated', {'order_id': ['not', 'a', 'key']}, "
        "correlation_id=command.correlation_id)\n"
    )
    report = sandbox.grade("order_outbox", source, random_schedules=0)
    assert report["status"] == "error"
    assert "could not use what your code produced" in report["message"]


def test_code_that_behaves_differently_for_the_same_input_is_reported():
    class Fickle(FakeRunner):
        runs = 0

        def request(self, request, on_callback=None):
            if request.get("op") == "describe":
                return {"functions": ["handle_place_order"], "constants": {}}
            # The message id is not in the request: learner code asks for it when it reads it.
            message_id = on_callback({"kind": "input", "field": "event.id"})["value"]
            Fickle.runs += message_id == "cmd-1"
            op = "reserve" if Fickle.runs % 2 else "release"  # not a function of its input
            on_callback(
                {
                    "kind": "call",
                    "service": "inventory",
                    "op": op,
                    "data": {"order_id": "o1"},
                    "idempotency_key": None,
                    "correlation_id": request["event"]["correlation_id"],
                    "pending": [],
                }
            )
            return {**GOOD, "effects": [{"kind": "call", "service": "inventory", "op": op}]}

    from sandbox.effects import GuestProtocolError
    from sandbox.explore import Session, _plan

    sc = scenarios.get("order_saga_orchestration")
    session = Session(sc, Fickle("", None), {})
    session.run(_plan(sc, "replay", 0, []), 0)  # records the answer tape
    lost = [
        {"kind": "request_lost", "site": "order.handle_place_order:cmd-1#1>inventory.reserve#1"}
    ]
    with pytest.raises(GuestProtocolError, match="exactly the same input"):
        session.run(_plan(sc, "replay", 0, lost), 0)  # same request, new answer: re-run diverges
