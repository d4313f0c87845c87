"""Learner code asks the simulator for the time and for each row it reads: a request carries only
what the function was given, so the answer cache serves an invocation again wherever the rows it
read are the same, and never where one of them differs."""

import sys

import pytest

import sandbox
from sandbox import scenarios, world
from sandbox.explore import Session, _plan
from sandbox.runner import GUEST_DIR, InProcessRunner
from tests.jail.conftest import require_jail

sys.path.insert(0, str(GUEST_DIR))
import dispatch  # noqa: E402

READER = """
def handle(event, ctx):
    with ctx.db.transaction() as tx:
        seen = tx.get("processed", event.id)
        again = tx.get("processed", event.id)
        orders = tx.find("orders", status="NEW")
    return {"seen": seen is not None, "again": again is not None, "orders": [k for k, _ in orders]}
"""

CLOCK = """
def handle(event, ctx):
    return [ctx.now, ctx.now]
"""

SNAPSHOT = {
    "processed": {"m1": {}},
    "orders": {"o1": {"status": "NEW"}, "o2": {"status": "PAID"}},
    "other": {"x": {"big": "not read"}},
}


def _lazy_call(source, answer):
    namespace = {"__name__": "solution"}
    exec(compile(source, "<solution>", "exec"), namespace)
    asked = []

    def callback(payload):
        asked.append(payload)
        return answer(payload)

    request = {
        "op": "call",
        "fn": "handle",
        "service": "order",
        "invocation": "i1",
        "event": {"id": "m1", "type": "T", "data": {}, "correlation_id": "c1"},
    }
    return dispatch.handle(namespace, request, callback), asked


def _from(snapshot, now=0):
    def answer(payload):
        if payload["kind"] == "now":
            return {"status": "ok", "now": now}
        rows = snapshot.get(payload["table"], {})
        if payload["kind"] == "scan":
            return {"status": "ok", "rows": rows}
        return {"status": "ok", "row": rows.get(payload["key"])}

    return answer


def test_a_request_without_a_store_asks_for_each_row_once_and_only_the_rows_it_reads():
    out, asked = _lazy_call(READER, _from(SNAPSHOT))
    assert out["ok"], out
    assert out["value"] == {"seen": True, "again": True, "orders": ["o1"]}
    assert asked == [
        {"kind": "read", "table": "processed", "key": "m1"},
        {"kind": "scan", "table": "orders"},
    ]


def test_the_time_is_asked_for_once_and_only_when_read():
    out, asked = _lazy_call(CLOCK, _from({}, now=1234))
    assert out["value"] == [1234, 1234] and asked == [{"kind": "now"}]
    out, asked = _lazy_call(READER, _from(SNAPSHOT))
    assert {"kind": "now"} not in asked


EVENT_FIELDS = """
def handle(event, ctx):
    return [event.type, event.id, event.attempt, event.source, ctx.new_id("x"), event.id]
"""


def test_the_event_id_source_attempt_and_invocation_are_asked_for_when_left_out_and_read():
    namespace = {"__name__": "solution"}
    exec(compile(EVENT_FIELDS, "<solution>", "exec"), namespace)
    asked = []
    inputs = {"event.id": "m9", "event.attempt": 2, "event.source": "payment", "invocation": "iv"}

    def callback(payload):
        asked.append(payload)
        return {"status": "ok", "value": inputs[payload["field"]]}

    request = {"op": "call", "fn": "handle", "service": "order", "event": {"type": "T"}}
    out = dispatch.handle(namespace, request, callback)
    assert out["value"] == ["T", "m9", 2, "payment", "x-iv-1", "m9"]
    assert [p["field"] for p in asked] == [
        "event.id",
        "event.attempt",
        "event.source",
        "invocation",
    ]


def test_a_refused_read_raises_in_learner_code():
    out, _ = _lazy_call(READER, lambda payload: {"status": "error", "message": "no"})
    assert not out["ok"] and "could not be read" in out["error"]


def test_a_request_with_a_store_reads_it_without_asking():
    namespace = {"__name__": "solution"}
    exec(compile(READER, "<solution>", "exec"), namespace)
    request = {
        "op": "call",
        "fn": "handle",
        "service": "order",
        "now": 0,
        "invocation": "i1",
        "store": SNAPSHOT,
        "event": {"id": "m2", "type": "T", "data": {}, "correlation_id": "c1"},
    }
    out = dispatch.handle(namespace, request, lambda p: pytest.fail(f"asked {p}"))
    assert out["value"] == {"seen": False, "again": False, "orders": ["o1"]}


def _session(name, source):
    sc = scenarios.get(name)
    return Session(sc, InProcessRunner(source), {})


def test_a_replayed_schedule_reaches_learner_code_no_more():
    sc = scenarios.get("idempotent_consumer")
    session = _session("idempotent_consumer", sc.reference_source)
    session.run(_plan(sc, "discover", 0), 0)
    first = session.round_trips
    session.run(_plan(sc, "discover", 0), 0)
    assert first > 0 and session.round_trips == first


def test_learner_requests_carry_neither_the_store_nor_the_time_nor_message_ids():
    sc = scenarios.get("idempotent_consumer")
    seen = []

    class Spy(InProcessRunner):
        def request(self, request, on_callback=None):
            seen.append(request)
            return super().request(request, on_callback)

    Session(sc, Spy(sc.reference_source), {}).run(_plan(sc, "discover", 0), 0)
    calls = [r for r in seen if r.get("op") == "call"]
    assert calls and all("store" not in r and "now" not in r for r in calls)
    assert all(
        "invocation" not in r and set(r["event"]).isdisjoint({"id", "attempt"}) for r in calls
    )


def test_reading_too_many_rows_in_one_invocation_is_too_much_work(monkeypatch):
    monkeypatch.setattr(world, "MAX_READS_PER_INVOCATION", 50)
    source = """
def on_payment_captured(event, ctx):
    for i in range(100):
        ctx.db.get("orders", "o-%d" % i)
"""
    report = sandbox.grade("idempotent_consumer", source, random_schedules=5)
    assert report["status"] == "timeout", report["message"]
    assert "read more than 50 rows" in report["message"]


def test_an_answer_is_served_again_for_a_store_that_differs_only_in_rows_it_did_not_read():
    sc = scenarios.get("idempotent_consumer")
    session = _session("idempotent_consumer", sc.reference_source)
    w = world.World(
        sc, session.runner, session.trusted, _plan(sc, "discover", 0), 0, session.cache, {}
    )
    event = {
        "id": "m1",
        "type": "PaymentCaptured",
        "data": {"order_id": "o1", "payment_id": "p1"},
        "correlation_id": "o1",
        "source": "payment",
    }
    order = {"o1": {"status": "PENDING"}}

    def invoke(**tables):
        w.invoke("order", "on_payment_captured", "test", event=event, snapshot=tables)
        return w.jail_trips

    assert invoke(processed={}, orders=order, notes={"n": {"v": 1}}) == 1
    assert invoke(processed={}, orders=order, notes={"n": {"v": 2}}) == 1  # unread row changed
    assert invoke(processed={"p1": {"order_id": "o1"}}, orders=order) == 2  # a read row changed
    assert invoke(processed={"p1": {"order_id": "o1"}}, orders={}) == 2  # "orders" never read then


FORGED_READS = """
def on_payment_captured(event, ctx):
    ask = ctx.db._fetch
    answers = [
        ask({"kind": "read", "table": ["not", "a", "name"], "key": "k"}),
        ask({"kind": "read", "table": "orders", "key": {"no": 1}}),
        ask({"kind": "scan", "table": 7}),
        ask({"kind": "input", "field": "store"}),
        ask({"kind": "input", "field": "event.data"}),
        ask({"kind": "read", "table": "orders", "key": "x" * 100000}),
    ]
    return [a.get("status") for a in answers]
"""


def test_forged_reads_through_the_jail_are_refused_without_breaking_the_grader():
    from sandbox import jail

    require_jail()  # fails where SAGA_REQUIRE_SERVICES=1 (CI) instead of skipping
    report = sandbox.grade(
        "idempotent_consumer", FORGED_READS, runner_factory=jail.JailRunner, random_schedules=2
    )
    assert report["status"] == "failed", report["message"]
    assert "bug in the course" not in report["message"]


def test_a_read_flood_through_the_jail_ends_as_too_much_work():
    from sandbox import jail

    require_jail()  # fails where SAGA_REQUIRE_SERVICES=1 (CI) instead of skipping
    source = """
from saga_api import SagaError

def on_payment_captured(event, ctx):
    i = 0
    while True:
        i += 1
        try:
            ctx.db.get("orders", "o-%d" % i)
        except SagaError:
            pass
"""
    report = sandbox.grade(
        "idempotent_consumer", source, runner_factory=jail.JailRunner, random_schedules=2
    )
    assert report["status"] == "timeout", report["message"]
    assert "read more than" in report["message"]
