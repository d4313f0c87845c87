"""The alternative correct solutions pass through the real jail too (the site's path).

tests/sandbox/test_alternative_solutions.py explores 300 random schedules of each in-process; here
the jail only has to agree, so discovery, every single-fault schedule and a few random ones (all
through the jail's round trips) are enough, and four times cheaper than 100."""

from pathlib import Path

import pytest

import sandbox
from sandbox.jail import JailRunner

from .conftest import require_jail

SOLUTIONS = Path(__file__).resolve().parents[1] / "sandbox" / "solutions"
FILES = sorted(p for p in SOLUTIONS.glob("*/*.py"))
JAIL_SCHEDULES = 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_alternative_correct_solution_passes_in_the_jail(path):
    require_jail()
    report = sandbox.grade(
        path.parent.name,
        path.read_text(),
        runner_factory=JailRunner,
        seed=0,
        random_schedules=JAIL_SCHEDULES,
    )
    assert report["status"] == "passed", report["message"]
