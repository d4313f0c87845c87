"""The alternative correct solutions pass through the real jail too (the site's path).

tests/sandbox/test_alternative_solutions.py explores 300 random schedules of each in-process; here
the jail only has to agree, so discovery, every single-fault schedule and a few random ones (all
through the jail's round trips) are enough, and four times cheaper than 100."""

import pytest

import sandbox
from sandbox.jail import JailRunner
from tests.alternatives import alternative_solutions

from .conftest import require_jail

SOLUTIONS = alternative_solutions()
JAIL_SCHEDULES = 10


@pytest.mark.parametrize(
    "scenario,source",
    [(s, src) for s, _, src in SOLUTIONS],
    ids=[f"{s}/{n}" for s, n, _ in SOLUTIONS],
)
def test_alternative_correct_solution_passes_in_the_jail(scenario, source):
    require_jail()
    report = sandbox.grade(
        scenario,
        source,
        runner_factory=JailRunner,
        seed=0,
        random_schedules=JAIL_SCHEDULES,
    )
    assert report["status"] == "passed", report["message"]
