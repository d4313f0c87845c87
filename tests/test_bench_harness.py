"""The benchmark harness's arithmetic for the scaling and mutate rows, with the measured work
and the clock replaced: ratios against the run's own baseline, PASS/FAIL against the targets.
No timing of this machine is asserted (the real runs are `python -m bench`)."""

from __future__ import annotations

import json
import subprocess
import types

import sandbox
from bench import mutate, scaling


def _clock(*readings: float) -> types.SimpleNamespace:
    values = iter(readings)
    return types.SimpleNamespace(perf_counter=lambda: next(values))


def test_exploration_rows_compare_time_per_schedule_with_the_smallest_size(monkeypatch):
    monkeypatch.setattr(scaling, "SCENARIOS", ["idempotent_consumer"])
    monkeypatch.setattr(
        sandbox,
        "grade",
        lambda name, source, random_schedules, **_: {
            "status": "passed",
            "schedules_explored": random_schedules,
        },
    )
    # 10 schedules in 1 s, 40 in 4 s (linear), 200 in 40 s (twice the time per schedule).
    monkeypatch.setattr(scaling, "time", _clock(0, 1, 0, 4, 0, 40))
    rows = scaling.exploration_rows((10, 40, 200))
    assert [row["ratio"] for row in rows] == [1.0, 1.0, 2.0]
    assert [row.get("verdict") for row in rows] == [None, "PASS", "FAIL"]


def test_an_exploration_that_does_not_pass_is_a_failed_row(monkeypatch):
    monkeypatch.setattr(scaling, "SCENARIOS", ["idempotent_consumer"])
    monkeypatch.setattr(
        sandbox,
        "grade",
        lambda *a, **k: {"status": "error", "schedules_explored": 3, "message": "ran out of time"},
    )
    monkeypatch.setattr(scaling, "time", _clock(0, 1))
    (row,) = scaling.exploration_rows((10,))
    assert row["verdict"] == "FAIL"
    assert "ran out of time" in row["notes"]


def _mutate_output(survivors: list) -> str:
    return json.dumps(
        {
            "scenarios": [{"name": "s", "reference": "passed", "total": 7}],
            "survivors": survivors,
        }
    )


def test_make_mutate_passes_within_its_ten_minute_budget(monkeypatch):
    monkeypatch.setattr(
        mutate.subprocess,
        "run",
        lambda cmd, **_: subprocess.CompletedProcess(cmd, 0, _mutate_output([]), ""),
    )
    monkeypatch.setattr(mutate, "time", _clock(0, 300))
    (row,) = mutate.run()
    assert row["ratio"] == 0.5
    assert row["verdict"] == "PASS"
    assert "7 mutants, 0 surviving" in row["notes"]


def test_make_mutate_past_its_budget_fails_and_a_quick_run_gives_no_verdict(monkeypatch):
    monkeypatch.setattr(
        mutate.subprocess,
        "run",
        lambda cmd, **_: subprocess.CompletedProcess(cmd, 1, _mutate_output([{"id": 1}]), ""),
    )
    monkeypatch.setattr(mutate, "time", _clock(0, 900, 0, 5))
    (slow,) = mutate.run()
    assert slow["verdict"] == "FAIL"
    (quick,) = mutate.run(quick=True)
    assert "verdict" not in quick
    assert "1 surviving" in quick["notes"]
