"""Every reference solution keeps every invariant: all single faults, then 1,000 random schedules."""

import pytest

import sandbox
from sandbox import scenarios

REFERENCE_SCHEDULES = 1000


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_reference_keeps_every_invariant(name):
    sc = scenarios.get(name)
    report = sandbox.grade(name, sc.reference_source, seed=0, random_schedules=REFERENCE_SCHEDULES)
    assert report["status"] == "passed", report["message"]
    assert report["violations"] == []
    assert all(inv["held"] for inv in report["invariants"])
    if sc.max_random_schedules is None:  # (a capped scenario's one run explores schedules itself)
        assert report["schedules_explored"] > REFERENCE_SCHEDULES  # plus the single faults
    fired = set(report["fault_kinds_explored"])
    assert fired, "no fault ever fired"
    assert fired <= set(sc.fault_kinds)


def test_every_scenario_explores_every_single_crash_point():
    sc = scenarios.get("idempotent_consumer")
    from sandbox.explore import Session, _plan
    from sandbox.runner import InProcessRunner

    session = Session(sc, InProcessRunner(sc.reference_source), {})
    discovery = _plan(sc, "discover", 0)
    session.run(discovery, 0)
    crashes = [f for f in discovery.sites if f["kind"] == "crash"]
    # Each handler invocation offers a crash before every effect and one before the ack.
    assert {"kind": "crash", "site": "order.on_payment_captured:payment-1#1", "at": 0} in crashes
    assert {"kind": "crash", "site": "order.on_payment_captured:payment-1#1", "at": 1} in crashes
    report = sandbox.grade("idempotent_consumer", sc.reference_source, random_schedules=0)
    assert report["schedules_explored"] == 1 + len(discovery.sites)
    assert report["status"] == "passed"
