"""The learner-facing API, exercised through the guest dispatcher."""

import sys

from sandbox.runner import GUEST_DIR

sys.path.insert(0, str(GUEST_DIR))
import dispatch  # noqa: E402
import saga_api  # noqa: E402


def _call(source, fn, store=None, callback=None, **arg):
    namespace = {"__name__": "solution"}
    exec(compile(source, "<solution>", "exec"), namespace)
    request = {
        "op": "call",
        "fn": fn,
        "service": "order",
        "now": 5,
        "invocation": "i1",
        "store": store or {},
    }
    request.update(
        arg
        or {"event": {"id": "m1", "type": "T", "data": {"order_id": "o1"}, "correlation_id": "c1"}}
    )
    return dispatch.handle(
        namespace, request, callback or (lambda p: {"status": "ok", "result": {}})
    )


CONSUMER = """
def handle(event, ctx):
    with ctx.db.transaction() as tx:
        if tx.get("processed", event.id):
            return "duplicate"
        tx.insert("processed", event.id, {})
        tx.update("orders", event.data["order_id"], status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": "o1"}, correlation_id=event.correlation_id)
    return "done"
"""
STORE = {"orders": {"o1": {"status": "PENDING"}}}


def test_transaction_records_writes_and_outbox_together():
    out = _call(CONSUMER, "handle", STORE)
    assert out["ok"] and out["value"] == "done"
    [commit] = out["effects"]
    assert commit["kind"] == "commit"
    assert [w[0] for w in commit["writes"]] == ["insert", "update"]
    assert commit["outbox"] == [
        {"type": "OrderConfirmed", "data": {"order_id": "o1"}, "correlation_id": "c1"}
    ]


def test_empty_row_counts_as_present():
    out = _call(CONSUMER, "handle", {**STORE, "processed": {"m1": {}}})
    assert out["value"] == "duplicate" and out["effects"] == []


def test_exception_inside_transaction_discards_it():
    source = """
def handle(event, ctx):
    with ctx.db.transaction() as tx:
        tx.update("orders", "o1", status="X")
        raise ValueError("nope")
"""
    out = _call(source, "handle", STORE)
    assert not out["ok"] and out["effects"] == []
    assert out["error"] == "ValueError: nope"
    assert "line 5" in out["traceback"]


def test_duplicate_key_can_be_caught():
    source = """
from saga_api import DuplicateKey
def handle(event, ctx):
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", "o1", {})
    except DuplicateKey:
        return "exists"
"""
    assert _call(source, "handle", STORE)["value"] == "exists"


def test_call_sends_earlier_effects_and_maps_timeouts():
    seen = []

    def callback(payload):
        seen.append(payload)
        return {"status": "timeout"}

    source = """
from saga_api import Timeout
def handle(event, ctx):
    with ctx.db.transaction() as tx:
        tx.put("a", "1", {})
    try:
        ctx.call("payment", "capture", {"x": 1}, idempotency_key="k", correlation_id=event.correlation_id)
    except Timeout:
        return "timed out"
"""
    out = _call(source, "handle", callback=callback)
    assert out["value"] == "timed out"
    assert [e["kind"] for e in seen[0]["pending"]] == ["commit"]
    assert seen[0]["idempotency_key"] == "k" and seen[0]["correlation_id"] == "c1"


def test_retry_later_and_poison_are_reported():
    assert (
        _call("from saga_api import RetryLater\ndef h(e, ctx):\n    raise RetryLater(250)\n", "h")[
            "retry_after"
        ]
        == 250
    )
    assert (
        _call("from saga_api import Poison\ndef h(e, ctx):\n    raise Poison('bad')\n", "h")[
            "poison"
        ]
        == "bad"
    )


def test_non_json_return_value_is_a_learner_error():
    out = _call("def h(e, ctx):\n    return {1, 2}\n", "h")
    assert not out["ok"] and "cannot be sent back" in out["error"]


def test_steps_serialise_for_the_declarative_saga():
    namespace = {}
    exec(
        "from saga_api import Step\ndef saga():\n    return [Step('a', 'order.create', 'order.cancel')]\n",
        namespace,
    )
    out = dispatch.handle(namespace, {"op": "pure", "fn": "saga", "args": []}, None)
    assert out["value"] == [{"name": "a", "action": "order.create", "compensation": "order.cancel"}]


def test_describe_lists_functions_and_constants():
    namespace = {}
    exec("MAX_ATTEMPTS = 3\ndef f(e, ctx):\n    pass\nclass K:\n    pass\n", namespace)
    out = dispatch.handle(namespace, {"op": "describe"}, None)
    assert out["functions"] == ["f"] and out["constants"] == {"MAX_ATTEMPTS": 3}
    assert saga_api.Event("m", "T", {}).attempt == 1
