"""Correct solutions written differently from the references pass: the grader must not fail right code
just because it is not the reference's shape."""

from pathlib import Path

import pytest

import sandbox
from sandbox import scenarios

SOLUTIONS = Path(__file__).resolve().parent / "solutions"
FILES = sorted(p for p in SOLUTIONS.glob("*/*.py"))


def test_every_scenario_has_three_alternative_solutions():
    counts = {name: len(list((SOLUTIONS / name).glob("*.py"))) for name in scenarios.NAMES}
    assert all(n >= 3 for n in counts.values()), counts


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_alternative_correct_solution_passes(path):
    report = sandbox.grade(path.parent.name, path.read_text(), seed=0, random_schedules=300)
    assert report["status"] == "passed", report["message"]
