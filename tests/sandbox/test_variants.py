"""Every known-buggy variant is caught on the invariant it targets, with a shrunk counterexample;
every starter fails."""

import pytest

import sandbox
from sandbox import scenarios

CASES = [
    (name, variant)
    for name in scenarios.NAMES
    for variant, (_, expected) in scenarios.get(name).variants.items()
    if expected != "pass"
]


@pytest.mark.parametrize("name,variant", CASES)
def test_buggy_variant_breaks_its_invariant(name, variant):
    source, expected = scenarios.get(name).variants[variant]
    report = sandbox.grade(name, source, seed=0, random_schedules=300)
    assert report["status"] == "failed", report["message"]
    names = [v["name"] for v in report["violations"]]
    assert expected in names, (names, report["message"])
    ce = report["counterexample"]
    assert ce is not None
    if expected in scenarios.get(name).judged_without_a_trace:
        assert not ce["trace"], "a verdict on the whole experiment names no single run"
        return
    assert ce["trace"], "a failure must come with a trace"
    assert all(
        set(step) >= {"t", "service", "kind", "message_id", "correlation_id", "detail"}
        for step in ce["trace"]
    )
    # The shrunk schedule replays to the same failure.
    again = sandbox.replay(name, source, ce["seed"], ce["schedule"])
    assert again["status"] == "failed"
    assert expected in [v["name"] for v in again["violations"]]


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_starter_fails(name):
    sc = scenarios.get(name)
    report = sandbox.grade(name, sc.starter_source, random_schedules=100)
    assert report["status"] == "failed", report["message"]
    assert report["violations"]


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_scenario_declares_what_the_site_needs(name):
    sc = scenarios.get(name)
    assert sc.name == name and sc.title and sc.summary and sc.lanes and sc.functions
    assert sc.expected["reference"] == "pass"
    assert set(sc.invariants) <= set(sandbox.invariants.INVARIANTS)
    for variant, (source, expected) in sc.variants.items():
        assert expected == "pass" or expected in sc.invariants, (variant, expected)
        for fn in sc.functions:
            assert f"def {fn}(" in source, (variant, fn)
