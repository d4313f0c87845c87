"""Saga isolation: Inventory shared by order sagas that run at the same time. The reference and the
alternative solutions keep every invariant; the starter and each buggy variant break the invariant
it is named for; the store's conditional update and the trusted ledger behave as the statement says."""

from pathlib import Path

import pytest

import sandbox
from sandbox import playgrounds, scenarios
from sandbox.explore import simulate
from sandbox.faults import FaultPlan

NAME = "saga_isolation"
SC = scenarios.get(NAME)
SOLUTIONS = Path(__file__).resolve().parent / "solutions" / NAME
BUGGY = sorted(v for v, (_, expected) in SC.variants.items() if expected != "pass")


def _calm(source: str, seed: int = 0) -> dict:
    """One run without faults; the report's counterexample carries its trace, passing or not."""
    report = simulate(NAME, source, FaultPlan("none", seed), seed=seed)
    return {**report, "trace": report["counterexample"]["trace"]}


def test_the_reference_keeps_every_invariant_under_every_single_fault_and_random_schedules():
    report = sandbox.grade(NAME, SC.reference_source, seed=0, random_schedules=300)
    assert report["status"] == "passed", report["message"]
    assert set(report["fault_kinds_explored"]) == set(SC.fault_kinds)


def test_there_are_a_starter_and_at_least_five_buggy_variants_with_named_invariants():
    assert "starter" in BUGGY and len(BUGGY) >= 6
    assert {SC.expected[v] for v in BUGGY} >= {"no_lost_update", "no_oversell", "conservation"}


@pytest.mark.parametrize("variant", BUGGY)
def test_the_starter_and_each_buggy_variant_break_the_invariant_they_are_named_for(variant):
    source, expected = SC.variants[variant]
    report = sandbox.grade(NAME, source, seed=0, random_schedules=300)
    assert report["status"] == "failed", report["message"]
    assert expected in [v["name"] for v in report["violations"]], report["message"]


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.stem)
def test_an_alternative_correct_solution_passes(path):
    report = sandbox.grade(NAME, path.read_text(), seed=0, random_schedules=300)
    assert report["status"] == "passed", report["message"]


def test_every_data_set_has_overlapping_reserves_a_mid_saga_delivery_and_a_refusal():
    for seed in range(SC.DATA_SETS):
        report = _calm(SC.reference_source, seed)
        assert report["status"] == "passed", (seed, report["message"])
        kinds = [step["kind"] for step in report["trace"]]
        details = " ".join(step["detail"] for step in report["trace"])
        assert "conflict" in kinds, seed  # a conditional update found the row changed
        assert "goods received" in details, seed
        assert "out_of_stock" in details, seed
        assert "declined: compensate" in details, seed


def test_a_write_conditional_on_a_stale_version_is_refused_and_retried():
    trace = _calm(SC.reference_source)["trace"]
    conflict = next(step for step in trace if step["kind"] == "conflict")
    assert "changed since it was read" in conflict["detail"]
    retries = [s for s in trace if s["kind"] == "timeout" and s["t"] == conflict["t"]]
    assert retries and "retry in" in retries[0]["detail"]


def test_a_read_compute_set_is_reported_as_a_lost_update_with_the_values_it_replaced():
    report = _calm(SC.variants["read_compute_set"][0])
    (lost,) = [v for v in report["violations"] if v["name"] == "no_lost_update"]
    assert "when the request arrived, before a concurrent change" in lost["detail"]


def test_a_compensation_that_restores_a_saved_value_is_reported_as_a_lost_update():
    report = _calm(SC.variants["release_restores_saved_value"][0])
    (lost,) = [v for v in report["violations"] if v["name"] == "no_lost_update"]
    assert "release(" in lost["detail"] and "a value saved earlier" in lost["detail"]


def test_taking_stock_at_payment_promises_units_twice_but_keeps_the_count_right():
    report = sandbox.grade(NAME, SC.variants["stock_taken_at_payment"][0], random_schedules=100)
    assert [v["name"] for v in report["violations"]] == ["no_oversell"]


def test_the_statement_numbers_come_from_the_scenario():
    constants = SC.statement_constants()
    assert constants["WORK_MS"] == SC.WORK_MS and constants["PAY_MS"] == SC.PAY_MS
    assert constants["RETRY_MS"] == SC.RETRY_MS


@pytest.mark.parametrize(
    "toggles, broken",
    [
        ({}, set()),
        ({"conditional_update": False}, {"no_lost_update", "no_oversell", "conservation"}),
        ({"conditional_update": False, "concurrent_orders": False}, set()),
        ({"commutative_updates": False}, {"no_lost_update", "conservation"}),
        ({"commutative_updates": False, "payment_fails": False}, set()),
        ({"semantic_lock": False}, {"no_oversell"}),
    ],
)
def test_the_playground_toggles_break_what_the_lesson_says(toggles, broken):
    report = playgrounds.run("saga-isolation", toggles, seed=1)
    assert {v["name"] for v in report["violations"]} == broken
    assert report["status"] == ("failed" if broken else "passed")


def test_without_the_delivery_bob_is_refused_for_lamps_alice_then_releases_and_that_is_right():
    report = playgrounds.run("saga-isolation", {"delivery": False}, seed=1)
    assert report["status"] == "passed"
    details = [step["detail"] for step in report["trace"]]
    refused = details.index("reserve(o2): status=out_of_stock")
    released = details.index("release(o1): status=released")
    assert refused < released
