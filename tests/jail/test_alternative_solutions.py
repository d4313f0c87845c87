"""The alternative correct solutions pass through the real jail too (the site's path)."""

from pathlib import Path

import pytest

import sandbox
from sandbox.jail import JailRunner

from .conftest import require_jail

SOLUTIONS = Path(__file__).resolve().parents[1] / "sandbox" / "solutions"
FILES = sorted(p for p in SOLUTIONS.glob("*/*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_alternative_correct_solution_passes_in_the_jail(path):
    require_jail()
    report = sandbox.grade(
        path.parent.name, path.read_text(), runner_factory=JailRunner, seed=0, random_schedules=100
    )
    assert report["status"] == "passed", report["message"]
