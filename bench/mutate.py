"""`make mutate`'s wall time: `python -m sandbox mutate --all --json` in a
subprocess, timed from outside, against the 10-minute budget (the ratio is
the share of the budget used). --quick grades a small sample of mutants per
scenario with fewer schedules: a smoke run of the harness, with no verdict."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.server import ROOT

BUDGET_SECONDS = 600.0


def run(quick: bool = False) -> list[dict]:
    command = [sys.executable, "-m", "sandbox", "mutate", "--all", "--json", "--quiet"]
    if quick:
        command += ["--sample", "2", "--schedules", "50"]
    print(f"  {' '.join(command[1:])} ...", file=sys.stderr, flush=True)
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"scenarios": [], "survivors": []}
    mutants = sum(s["total"] for s in report["scenarios"])
    survivors = len(report["survivors"])
    broken = [s["name"] for s in report["scenarios"] if s["reference"] != "passed"]
    notes = (
        f"{len(report['scenarios'])} scenarios, {mutants} mutants, {survivors} surviving, "
        f"exit {done.returncode}"
    )
    if broken:
        notes += f"; reference failed: {', '.join(broken)}"
    row: dict = {
        "figure": "make mutate, all scenarios (wall time)"
        + (" [quick: 2 mutants each, 50 schedules]" if quick else ""),
        "value": f"{seconds:.0f} s",
        "baseline": f"budget {BUDGET_SECONDS / 60:.0f} min",
        "ratio": seconds / BUDGET_SECONDS,
        "notes": notes,
        "target": "<= 1.00 (10 min)",
    }
    if not quick:
        row["verdict"] = "PASS" if seconds <= BUDGET_SECONDS and not broken and mutants else "FAIL"
    return [row]
