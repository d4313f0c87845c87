"""Grading in a bounded child process.

The jail bounds the learner's process; this bounds the trusted side's work done on the learner's
behalf. ``grade_isolated`` runs one grading (or one replay) in a fresh ``python -m sandbox.isolated``
whose address space and CPU time are capped before anything is imported, so no submission can
make a worker (or, in the embedded mode, the web server) use more than ``MEMORY_MB`` or keep a
core busy past ``CPU_SECONDS``: past a limit the grading ends with a "too much work" verdict,
never a dead worker.

A grading that ran out of *wall* time (not CPU) is retried once: on an overloaded host a correct
solution can be slow without using much CPU, and that is not the learner's fault.

Plain Python, no Django (the site calls it from ``exercises.grading.grade_code``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from .report import Limit, Report, Status, new_report
from .runner import Limits

MEMORY_MB = 512  # the whole grading process: simulator, caches, reports
CPU_SECONDS = 60  # its CPU (the explorer stops itself at explore.HOST_CPU_SECONDS)
WALL_SECONDS = 240  # a backstop only: CPU limits end real runaways long before
ROOT = Path(__file__).resolve().parent.parent

TOO_MUCH = (
    "Your code made the simulator do too much work: grading it needed more than {what}. No "
    "solution needs that much; look for loops that call, retry or write far more than the "
    "scenario asks."
)


def grade_isolated(
    scenario: str,
    source: str,
    *,
    seed: int = 0,
    random_schedules: int = 500,
    limits: Limits | None = None,
    schedule: list[Any] | None = None,
    allow_unjailed: bool = False,
    jailed: bool = True,
    jail_known_good: bool = False,
    memory_mb: int = MEMORY_MB,
    cpu_seconds: int = CPU_SECONDS,
    wall_seconds: float = WALL_SECONDS,
) -> Report:
    """``sandbox.grade`` (or ``sandbox.replay`` when ``schedule`` is given) in a bounded child.

    ``jailed=False`` runs trusted sources in-process (tests, references); ``jail_known_good`` skips
    the child's own probe of bubblewrap when the caller has just made it."""
    job = {
        "scenario": scenario,
        "source": source,
        "seed": seed,
        "random_schedules": random_schedules,
        "limits": asdict(limits or Limits()),
        "schedule": schedule,
        "allow_unjailed": allow_unjailed,
        "jailed": jailed,
        "jail_known_good": jail_known_good,
        "memory_mb": memory_mb,
        "cpu_seconds": cpu_seconds,
    }
    report = _run(job, wall_seconds)
    if report.get("limit") == Limit.TIMEOUT:
        # Out of wall time, not CPU: maybe the host was overloaded. Once more before blaming the code.
        again = _run(job, wall_seconds)
        again["retried"] = True
        return again
    return report


def _run(job: dict[str, Any], wall_seconds: float) -> Report:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sandbox.isolated"],
            input=json.dumps(job).encode(),
            capture_output=True,
            timeout=wall_seconds,
            cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return _failure(
            Status.TIMEOUT,
            f"The grading ran past {wall_seconds:.0f} s of wall time and was stopped.",
            limit=Limit.TIMEOUT,
        )
    if proc.returncode == 0:
        try:
            report = json.loads(proc.stdout)
            if isinstance(report, dict) and "status" in report:
                return cast(Report, report)  # written by main() below from a Report
        except ValueError:
            pass
    rc = proc.returncode
    if rc in (-signal.SIGXCPU, -signal.SIGKILL):
        return _failure(
            Status.TIMEOUT,
            TOO_MUCH.format(what=f"{job['cpu_seconds']} s of the grader's CPU time"),
            limit=Limit.WORK,
        )
    tail = proc.stderr.decode("utf-8", "replace")[-2000:]
    if "MemoryError" in tail or "Cannot allocate memory" in tail:
        return _failure(
            Status.TIMEOUT,
            TOO_MUCH.format(what=f"{job['memory_mb']} MiB of the grader's memory"),
            limit=Limit.WORK,
        )
    return _failure(
        Status.ERROR,
        "The grader failed unexpectedly while running your code (exit "
        f"{rc}). This is our bug, not yours; please submit again in a moment.",
    )


def _failure(status: Status, message: str, limit: Limit | None = None) -> Report:
    """The report of a grading whose process failed (no seed: nothing was explored)."""
    report = new_report(status, message, seed=None)
    report["limit"] = limit
    return report


def _limit_self(memory_mb: int, cpu_seconds: int) -> None:
    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mib, memory_mb * mib))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def main() -> int:
    # Imported here, not at the top: this process capped its memory and CPU when the module loaded,
    # so everything the grading needs is loaded under the cap too.
    import functools
    import time

    from . import jail
    from .explore import grade, replay
    from .jail import JailRunner
    from .runner import InProcessRunner, RunnerFactory

    job = json.loads(sys.stdin.buffer.read())
    if job.get("jail_known_good"):
        jail._PROBE = (time.monotonic(), (True, ""))
    # After the (trusted) imports: the cap is for what grading this submission takes.
    _limit_self(int(job["memory_mb"]), int(job["cpu_seconds"]))

    limits = Limits(**job["limits"])
    factory: RunnerFactory
    if job.get("jailed", True):
        factory = functools.partial(JailRunner, allow_unjailed=bool(job.get("allow_unjailed")))
    else:  # trusted sources only (tests, the instructors' reference checks)
        factory = InProcessRunner
    if job.get("schedule") is not None:
        report = replay(
            job["scenario"],
            job["source"],
            int(job["seed"]),
            list(job["schedule"]),
            runner_factory=factory,
        )
    else:
        report = grade(
            job["scenario"],
            job["source"],
            runner_factory=factory,
            seed=int(job["seed"]),
            random_schedules=int(job["random_schedules"]),
            limits=limits,
        )
    # What this grading ran under, read back from the kernel (the tests check it).
    report["grader_memory_mb"] = resource.getrlimit(resource.RLIMIT_AS)[0] >> 20
    report["grader_cpu_seconds"] = resource.getrlimit(resource.RLIMIT_CPU)[0]
    sys.stdout.write(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
