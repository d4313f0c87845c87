"""The shortcuts that make in-process simulation fast change no result: tape keys tell apart
everything the guest could tell apart, a checked answer served again is a fresh copy that charges
the same budget, crash points drawn lazily are the ones drawn up front, fault draws from a hashed
prefix are the plain hash, trusted participants replay from the cache, and the host CPU budget
still stops a grading."""

import enum
import marshal
import random

import pytest

from sandbox import effects, explore, scenarios
from sandbox.faults import MAX_CRASH_AT, FaultPlan
from sandbox.report import Limit, Status
from sandbox.rng import unit, unit_prefix
from sandbox.runner import InProcessRunner
from sandbox.world import Cache, World, _canonical

ANSWER = {
    "ok": True,
    "crashed": False,
    "error": None,
    "traceback": "",
    "retry_after": None,
    "poison": None,
    "value": {"n": 1},
    "effects": [
        {
            "kind": "commit",
            "writes": [["insert", "orders", "o1", {"status": "NEW", "lines": [1, 2]}]],
            "outbox": [{"type": "OrderCreated", "data": {"id": "o1"}, "correlation_id": "c"}],
        }
    ],
}


def test_equal_requests_share_a_tape_key():
    a = {"op": "call", "event": {"data": {"x": [1, {"y": None}]}, "type": "T"}}
    b = {"op": "call", "event": {"data": {"x": [1, {"y": None}]}, "type": "T"}}
    assert Cache.key(a) == Cache.key(b)
    assert Cache.chain(Cache.key(a), {"status": "ok", "row": None}) == Cache.chain(
        Cache.key(b), {"status": "ok", "row": None}
    )


def test_tape_keys_tell_apart_what_the_guest_can_tell_apart():
    # The JSON text with sorted keys that keys were once built from calls each of these pairs the
    # same; the guest can tell them apart (it iterates a dict in the order sent, sees a tuple).
    pairs = [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"v": (1, 2)}, {"v": [1, 2]}),
        ({1: "x"}, {"1": "x"}),
    ]
    for left, right in pairs:
        assert _canonical(left) == _canonical(right)
        assert Cache.key(left) != Cache.key(right)
    # ... and whatever that text told apart, the key still does.
    for left, right in [({"v": 1}, {"v": 1.0}), ({"v": 1}, {"v": True}), ({"v": "1"}, {"v": 1})]:
        assert Cache.key(left) != Cache.key(right)


def test_a_value_marshal_refuses_is_keyed_by_its_json_text():
    class Level(enum.IntEnum):
        HIGH = 2

    with pytest.raises(ValueError):
        marshal.dumps({"level": Level.HIGH}, 2)
    key = Cache.key({"level": Level.HIGH})
    assert key == Cache.key({"level": Level.HIGH})
    assert key != Cache.key({"level": 2})


def test_a_checked_answer_served_again_is_an_equal_fresh_copy_charging_the_same_budget():
    cache = Cache()
    first_budget, second_budget, plain_budget = (
        effects._Budget(),
        effects._Budget(),
        effects._Budget(),
    )
    plain = effects.call_response(ANSWER, plain_budget)
    first = cache.call_response(ANSWER, first_budget)
    second = cache.call_response(ANSWER, second_budget)
    assert first == second == plain
    assert first_budget.nodes == second_budget.nodes == plain_budget.nodes
    row = second["effects"][0]["writes"][0][3]
    assert row is not first["effects"][0]["writes"][0][3]
    row["lines"].append(3)  # a copy: the next one is as checked
    assert cache.call_response(ANSWER, effects._Budget()) == plain


def test_an_answer_that_would_exceed_the_budget_fails_as_the_full_check_does():
    cache = Cache()
    cache.call_response(ANSWER, effects._Budget())
    full, served = effects._Budget(), effects._Budget()
    full.nodes = served.nodes = effects.MAX_NODES - 3
    with pytest.raises(effects.GuestProtocolError) as expected:
        effects.call_response(ANSWER, full)
    with pytest.raises(effects.GuestProtocolError) as got:
        cache.call_response(ANSWER, served)
    assert str(got.value) == str(expected.value)


def test_fault_draws_from_a_hashed_prefix_are_the_plain_hash():
    rng = random.Random(7)
    for _ in range(300):
        seed, site = rng.randrange(2**31), f"svc.fn:m-{rng.random()}#1"
        assert unit_prefix(seed, "duplicate")(site) == unit(seed, "duplicate", site)
        for k in range(MAX_CRASH_AT):
            assert unit_prefix(seed, "crash").extend(site)(k) == unit(seed, "crash", site, k)


def test_a_crash_point_drawn_lazily_is_the_one_drawn_up_front():
    rng = random.Random(11)
    checked = 0
    for _ in range(400):
        plan = FaultPlan("random", rng.randrange(2**31), kinds=("crash",), horizon=3000)
        rate = plan._rates["crash"]
        site = f"order.place_order:cmd-{rng.randrange(9)}#{rng.randrange(1, 3)}"
        draws = [unit(plan.seed, "crash", site, k) for k in range(MAX_CRASH_AT)]
        up_front = next((k for k, d in enumerate(draws) if d < rate), None) if rate > 0 else None
        assert plan.crash_point(site, 0) == up_front
        crash = plan.crash(site, 0)
        for n in range(MAX_CRASH_AT + 2):  # effects arrive one by one
            assert crash.reached(n) == (up_front is not None and n >= up_front)
        assert crash.at == up_front
        checked += up_front is not None
    assert checked  # some of them crash


def test_trusted_participants_replay_from_the_cache(monkeypatch):
    scenario = scenarios.get("idempotent_consumer")
    counts = {"requests": 0, "invocations": 0}
    request, invoke = InProcessRunner.request, World.invoke

    def counted_request(self, req, on_callback=None):
        counts["requests"] += not self.fresh  # the trusted runner keeps its module
        return request(self, req, on_callback)

    def counted_invoke(self, service, fn, site, **kwargs):
        counts["invocations"] += fn not in scenario.functions
        return invoke(self, service, fn, site, **kwargs)

    monkeypatch.setattr(InProcessRunner, "request", counted_request)
    monkeypatch.setattr(World, "invoke", counted_invoke)
    report = explore.grade(scenario.name, scenario.reference_source, random_schedules=100)
    assert report["status"] == Status.PASSED
    # Shipping's handler runs many times per schedule; it is asked only for what is new.
    assert 0 < counts["requests"] < counts["invocations"] / 3


def test_the_host_cpu_budget_still_stops_a_grading(monkeypatch):
    scenario = scenarios.get("idempotent_consumer")
    monkeypatch.setattr(explore, "HOST_CPU_SECONDS", -1.0)
    report = explore.grade(scenario.name, scenario.reference_source, random_schedules=10)
    assert report["status"] == Status.TIMEOUT
    assert report["limit"] == Limit.WORK
    assert "too much work" in report["message"]
