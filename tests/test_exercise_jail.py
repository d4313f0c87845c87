"""Every exercise through the real jail: the reference passes, the starter fails,
and every known-buggy variant fails on the invariant it is known to break."""

from __future__ import annotations

import shutil

import pytest

from exercises import grading
from exercises.content_loader import read_all
from exercises.models import ExerciseVersion
from sandbox import scenarios
from tests.conftest import need

SPECS = read_all()
CASES = [(spec, "reference", spec.solution, "pass") for spec in SPECS]
CASES += [(spec, "starter", spec.starter, "fail") for spec in SPECS]
CASES += [
    (spec, name, v["source"], v["expected"])
    for spec in SPECS
    for name, v in sorted(spec.variants.items())
]


# A failing grading stops at its first counterexample, so its cap only bounds the search. A passing
# one runs every schedule up to the cap: tests/sandbox/test_references.py explores 1,000 of each
# reference in-process, so here the jail only has to agree (discovery, every single fault, a few
# random schedules, all through its round trips).
SEARCH_SCHEDULES = 100
PASSING_SCHEDULES = 10


@pytest.fixture(autouse=True)
def real_jail(settings):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = SEARCH_SCHEDULES


def _version(spec) -> ExerciseVersion:
    return ExerciseVersion(
        scenario=spec.scenario, limits=spec.limits, random_schedules=spec.random_schedules
    )


@pytest.mark.parametrize(
    "spec, name, source, expected", CASES, ids=[f"{c[0].slug}-{c[1]}" for c in CASES]
)
def test_known_code_gets_its_known_verdict_in_the_jail(spec, name, source, expected, settings):
    if expected == "pass":
        settings.SANDBOX_RANDOM_SCHEDULES = PASSING_SCHEDULES
    result = grading.grade_code(_version(spec), source)
    assert result["jailed"] is True
    broken = [v["name"] for v in result["violations"]]
    if expected == "pass":
        assert result["status"] == "passed", result["message"]
    elif expected == "fail":
        assert result["status"] == "failed", result["message"]
    else:
        assert result["status"] == "failed", result["message"]
        assert expected in broken, (broken, result["message"])
        # A verdict on a whole grading (a missed bug, a bad fault menu) names no single run.
        if expected not in scenarios.get(spec.scenario).judged_without_a_trace:
            assert result["counterexample"]["trace"]
