"""Fingerprints of every playground report (every toggle combination, two seeds) and of the
grading reports of scenarios with trusted world code, so a re-layout can show it changed nothing.

``python -m tests.sandbox.snapshot_reports`` rewrites ``report_snapshot.json`` (only do that when a
behaviour change is intended); ``test_report_snapshot.py`` compares against it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402
from sandbox import playgrounds, scenarios  # noqa: E402

SNAPSHOT = Path(__file__).resolve().parent / "report_snapshot.json"
SEEDS = (0, 7)
# Scenarios whose trusted participants live in world.py, graded with their reference and one variant.
GRADE_SEED = 3
GRADE_SCHEDULES = 20
# Wall-clock figures are the only part of a report that may differ between two runs.
VOLATILE = {"duration_ms"}


def fingerprint(report: dict[str, Any]) -> dict[str, Any]:
    stable = {k: v for k, v in report.items() if k not in VOLATILE}
    text = json.dumps(stable, sort_keys=True)
    return {
        "status": report["status"],
        "broken": sorted(v["name"] for v in report.get("violations", [])),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def toggle_combinations(key: str) -> list[dict[str, bool]]:
    names = [t["name"] for t in playgrounds.PLAYGROUNDS[key]["toggles"]]
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product((False, True), repeat=len(names))
    ]


def playground_cases() -> list[tuple[str, str, dict[str, bool], int]]:
    cases = []
    for key in sorted(playgrounds.PLAYGROUNDS):
        for toggles in toggle_combinations(key):
            for seed in SEEDS:
                on = ",".join(name for name, value in toggles.items() if value) or "-"
                cases.append((f"{key}|{on}|{seed}", key, toggles, seed))
    return cases


def world_scenarios() -> list[str]:
    return sorted(name for name in scenarios.NAMES if scenarios.get(name).world_source)


def grading_cases() -> list[tuple[str, str, str]]:
    cases = []
    for name in world_scenarios():
        sc = scenarios.get(name)
        variant = sorted(stem for stem, outcome in sc.expected.items() if outcome != "pass")[0]
        cases.append((f"{name}|reference", name, sc.reference_source))
        cases.append((f"{name}|{variant}", name, sc.variants[variant][0]))
    return cases


def grade_case(name: str, source: str) -> dict[str, Any]:
    return sandbox.grade(name, source, seed=GRADE_SEED, random_schedules=GRADE_SCHEDULES)


def build() -> dict[str, Any]:
    return {
        "playgrounds": {
            case: fingerprint(playgrounds.run(key, toggles, seed))
            for case, key, toggles, seed in playground_cases()
        },
        "gradings": {
            case: fingerprint(grade_case(name, src)) for case, name, src in grading_cases()
        },
    }


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
