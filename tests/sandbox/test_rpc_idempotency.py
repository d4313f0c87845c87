"""The platform's idempotency-key layer for RPC: replay, reject, conflict, expiry."""

from sandbox.faults import FaultPlan
from sandbox.rpc import KEY_TTL
from sandbox.runner import InProcessRunner
from sandbox.scenarios.base import Scenario
from sandbox.world import World

BANK = """
def deposit(request, ctx):
    with ctx.db.transaction() as tx:
        n = len(tx.find("deposits"))
        tx.insert("deposits", f"d{n + 1}", {"amount": request.data["amount"]})
    return {"deposit": f"d{n + 1}"}
"""


class Bank(Scenario):
    name = "bank"
    lanes = ("client", "bank")
    rpc_ops = {("bank", "deposit"): "deposit"}
    idempotent_services = ("bank",)


def _world(rules=()):
    plan = FaultPlan("rules", 0, rules=list(rules))
    return World(Bank(), None, InProcessRunner(BANK), plan, seed=0)


def _deposit(world, key, amount=10, n=1):
    return world.rpc.call(
        "client", f"client#{n}", "bank", "deposit", {"amount": amount}, key, "corr-1"
    )


def test_repeated_key_replays_the_stored_result():
    world = _world()
    first = _deposit(world, "k1")
    again = _deposit(world, "k1", n=2)
    assert first == again == {"status": "ok", "result": {"deposit": "d1"}}
    assert len(world.stores["bank"].rows("deposits")) == 1
    assert any("replayed stored result" in step["detail"] for step in world.trace.steps)


def test_same_key_with_a_different_payload_is_rejected():
    world = _world()
    _deposit(world, "k1", amount=10)
    answer = _deposit(world, "k1", amount=99, n=2)
    assert answer["status"] == "rejected"
    assert len(world.stores["bank"].rows("deposits")) == 1


def test_concurrent_request_with_the_same_key_gets_a_conflict():
    world = _world([{"kind": "concurrent", "match": "client#1"}])
    assert _deposit(world, "k1")["status"] == "ok"
    assert len(world.stores["bank"].rows("deposits")) == 1
    assert any(step["kind"] == "conflict" for step in world.trace.steps)


def test_lost_reply_then_retry_gets_the_original_result():
    world = _world([{"kind": "reply_lost", "match": "client#1"}])
    assert _deposit(world, "k1")["status"] == "timeout"
    assert _deposit(world, "k1", n=2) == {"status": "ok", "result": {"deposit": "d1"}}
    assert len(world.stores["bank"].rows("deposits")) == 1


def test_expired_key_is_handled_as_new():
    world = _world()
    _deposit(world, "k1")
    world.sched.now = KEY_TTL + 1
    assert _deposit(world, "k1", n=2)["result"] == {"deposit": "d2"}
    assert any(step["kind"] == "expired" for step in world.trace.steps)


def test_without_a_key_every_call_acts_again():
    world = _world()
    _deposit(world, None)
    _deposit(world, None, n=2)
    assert len(world.stores["bank"].rows("deposits")) == 2
