"""Correct solutions written differently from the references pass: the grader must not fail right code
just because it is not the reference's shape."""

from collections import Counter

import pytest

import sandbox
from sandbox import scenarios
from tests.alternatives import alternative_solutions

SOLUTIONS = alternative_solutions()


def test_every_scenario_has_three_alternative_solutions():
    counts = Counter(name for name, _, _ in SOLUTIONS)
    assert all(counts[name] >= 3 for name in scenarios.NAMES), counts


@pytest.mark.parametrize(
    "scenario,source",
    [(s, src) for s, _, src in SOLUTIONS],
    ids=[f"{s}/{n}" for s, n, _ in SOLUTIONS],
)
def test_alternative_correct_solution_passes(scenario, source):
    report = sandbox.grade(scenario, source, seed=0, random_schedules=300)
    assert report["status"] == "passed", report["message"]
