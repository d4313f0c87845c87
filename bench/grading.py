"""Grading through the real pipeline (database, Redis, a Celery worker, the
jail): submit-to-verdict latency as a ratio to the floor (starting a jailed
interpreter that runs `pass`), sustained gradings per second, schedules
explored per grading, and the worker's peak memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.server import ROOT, manage, site_env

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/3")
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/saga_bench")
EXERCISES = ["idempotent-consumer", "order-saga-choreography"]

# Where a grading's time goes, each phase between two wall-clock stamps: the driver's, the
# submission's row (started_at: claimed by a worker; finished_at: verdict written) and the grading's
# own (sandbox.isolated with SANDBOX_GRADING_TIMINGS=1; "main" is the grading process's first line).
PHASES = [
    ("submit (rows + dispatch)", "submit_called", "submit_returned"),
    ("broker + Celery pickup + claim", "submit_returned", "task_started"),
    ("task: claim to grade_isolated", "task_started", "called"),
    ("grading process start + imports", "called", "main"),
    ("grading process setup + limits", "main", "setup_done"),
    ("jail start + learner code loaded", "setup_done", "jail_started"),
    ("exploration + jail stop", "jail_started", "graded"),
    ("report back to the worker", "graded", "returned"),
    ("verdict cleaned + written", "returned", "finished"),
    ("verdict seen by the driver", "finished", "seen"),
]

GRADING_PROPER = ("jail start + learner code loaded", "exploration + jail stop")
OUTSIDE = "all but the grading proper (sum)"


def phases(row: dict, called: float, returned: float, seen: float) -> dict[str, float]:
    stamps = {
        **((row["result"] or {}).get("grader_timings") or {}),
        "submit_called": called,
        "submit_returned": returned,
        "seen": seen,
    }
    if row["started_at"] and row["finished_at"]:
        stamps.update(
            task_started=row["started_at"].timestamp(), finished=row["finished_at"].timestamp()
        )
    return {
        name: stamps[end] - stamps[start]
        for name, start, end in PHASES
        if start in stamps and end in stamps
    }


def _fresh_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _flush_broker(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def jail_floor(samples: int = 10) -> float:
    """Median seconds to start a jailed interpreter that runs `pass` and stop it."""
    from sandbox.jail import JailRunner

    times = []
    for _ in range(samples):
        began = time.perf_counter()
        with JailRunner("pass"):
            pass
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _peak_rss_kib(pid: int) -> int:
    """Highest VmHWM of the worker and its descendants (pool processes, their warm grader servers)."""
    pids, todo = [], [pid]
    while todo:
        each = todo.pop()
        pids.append(each)
        try:
            todo += [int(p) for p in Path(f"/proc/{each}/task/{each}/children").read_text().split()]
        except OSError:
            pass
    peak = 0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


@contextmanager
def bench_site() -> Iterator[dict]:
    """A fresh site (its own database `saga_bench`, Redis db 3) for the worker runs: yields its env."""
    with tempfile.TemporaryDirectory(prefix="saga-bench-grading-") as tmp:
        try:
            _fresh_database(DATABASE)
            database = DATABASE
        except Exception as exc:  # no PostgreSQL here: SQLite still measures the pipeline
            print(f"  PostgreSQL unavailable ({exc}); using SQLite", file=sys.stderr)
            database = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        _flush_broker(BROKER)
        # The bench's accounts are fresh: without this they would all wait in the low lane (fair share),
        # and the row would measure the lane, not the graders.
        env = site_env(
            Path(tmp),
            SANDBOX_GRADING_TIMINGS="1",  # each verdict carries its phases' stamps (breakdown rows)
            DATABASE_URL=database,
            CELERY_BROKER_URL=BROKER,
            GRADING_NEW_ACCOUNT_MINUTES="0",
        )
        print("  preparing the site ...", file=sys.stderr, flush=True)
        manage(env, "migrate", "--noinput")
        manage(env, "load_content", "--verbosity", "0")
        yield env


def pipeline(env: dict, concurrency: int, per_exercise: int, learners: int) -> tuple[dict, int]:
    """Start a worker with `concurrency` processes, grade `per_exercise` reference submissions of
    each benchmark exercise with `learners` in flight, stop the worker. Returns the driver's
    measurements and the worker's peak RSS (KiB)."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "courseapp",
            "worker",
            "--loglevel=warning",
            f"--concurrency={concurrency}",
            "--prefetch-multiplier=1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        print(
            f"  grading {per_exercise} reference submissions per exercise with {learners} learners "
            f"on {concurrency} worker process(es) ...",
            file=sys.stderr,
            flush=True,
        )
        driver = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.grading_driver",
                str(per_exercise),
                str(learners),
                *EXERCISES,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if driver.returncode != 0:
            raise RuntimeError(driver.stderr[-2000:])
        results = json.loads(driver.stdout.strip().splitlines()[-1])
        return results, _peak_rss_kib(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def breakdown_rows(results: dict) -> list[dict]:
    """Median milliseconds of each phase of a grading, over every grading of the run."""
    every = [p for data in results["by_exercise"].values() for p in data.get("phases", [])]
    for p in every:
        if len(p) == len(PHASES):
            p[OUTSIDE] = sum(v for name, v in p.items() if name not in GRADING_PROPER)
    rows = []
    for name in [name for name, _start, _end in PHASES] + [OUTSIDE]:
        values = sorted(p[name] for p in every if name in p)
        if not values:
            continue
        median = statistics.median(values)
        rows.append(
            {
                "figure": f"  phase: {name}",
                "value": f"{median * 1000:.0f} ms",
                "p50_ms": round(median * 1000),
                "p95_ms": round(values[min(len(values) - 1, int(0.95 * len(values)))] * 1000),
                "notes": f"median of {len(values)} gradings",
            }
        )
    return rows


def _tree_cpu(pid: int) -> float:
    """CPU seconds of process ``pid``: its own and its reaped children's (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    """CPU seconds of this process and its reaped children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def isolation_rows(quick: bool) -> list[dict]:
    """The cost of isolating a grading, measured in this one run: each benchmark scenario's reference
    graded through the jail directly (sandbox.grade, in this process), through grade_isolated's
    warm server, and through a fresh interpreter per grading (SANDBOX_WARM_GRADER=0, the path before
    the warm server). CPU time counts every process involved (the jail's too), so it is far less
    disturbed by other load on the machine than wall time."""
    import sandbox
    from sandbox import isolated, scenarios
    from sandbox.jail import JailRunner

    samples = 2 if quick else 6
    rows: list[dict] = []
    for name in ("idempotent_consumer", "order_saga_choreography"):
        source = scenarios.get(name).reference_source
        measured: dict[str, tuple[float, float]] = {}  # mode -> (median wall s, CPU s per grading)
        for mode in ("direct", "warm", "fresh"):
            print(f"  {name}: {samples} gradings, {mode} ...", file=sys.stderr, flush=True)
            os.environ[isolated.WARM_ENV] = "0" if mode == "fresh" else "1"
            server = None
            if mode == "direct":  # this process loads the scenario once, as the warm server does
                sandbox.grade(name, source, runner_factory=JailRunner, random_schedules=1)
            if mode == "warm":  # started and used once before measuring: its start is counted apart
                isolated.stop_servers()
                isolated.grade_isolated(name, source, random_schedules=1, jail_known_good=True)
                server = isolated._servers.idle[0].proc.pid
            walls = []
            cpu_before = _own_cpu() + (_tree_cpu(server) if server else 0.0)
            for _ in range(samples):
                began = time.perf_counter()
                if mode == "direct":
                    report = sandbox.grade(name, source, runner_factory=JailRunner)
                else:
                    report = isolated.grade_isolated(name, source, jail_known_good=True)
                walls.append(time.perf_counter() - began)
                if report["status"] != "passed":
                    print(f"  unexpected {report['status']}: {report['message']}", file=sys.stderr)
            cpu = _own_cpu() + (_tree_cpu(server) if server else 0.0) - cpu_before
            measured[mode] = (statistics.median(walls), cpu / samples)
        os.environ.pop(isolated.WARM_ENV, None)
        isolated.stop_servers()
        direct_wall, direct_cpu = measured["direct"]
        for mode, label in (("warm", "warm server"), ("fresh", "fresh interpreter")):
            wall, cpu = measured[mode]
            rows.append(
                {
                    "figure": f"isolated grading {name}, {label}: CPU per grading",
                    "value": f"{cpu * 1000:.0f} ms",
                    "baseline": f"direct {direct_cpu * 1000:.0f} ms",
                    "ratio": cpu / direct_cpu,
                    "p50_ms": round(wall * 1000),
                    "notes": f"+{(cpu - direct_cpu) * 1000:.0f} ms CPU, "
                    f"+{(wall - direct_wall) * 1000:.0f} ms wall (median) over direct",
                }
            )
    return rows


def run(quick: bool = False) -> list[dict]:
    per_exercise = 4 if quick else 12
    learners = 2  # one per worker process: latency without queueing behind each other
    with bench_site() as env:
        print("  measuring the jail floor ...", file=sys.stderr, flush=True)
        floor = jail_floor()
        results, peak_kib = pipeline(env, 2, per_exercise, learners)
    rows = []
    for slug in EXERCISES:
        data = results["by_exercise"][slug]
        latencies = sorted(data["latencies"])
        median = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        schedules = min(data["schedules"])
        ratio = median / floor
        rows.append(
            {
                "figure": f"grading {slug} (median submit→verdict)",
                "value": f"{median:.2f} s",
                "baseline": f"jail floor {floor * 1000:.0f} ms",
                "ratio": ratio,
                "p50_ms": round(median * 1000),
                "p95_ms": round(p95 * 1000),
                "target": "<= 5x floor, >= 500 schedules",
                "verdict": "PASS" if ratio <= 5 and schedules >= 500 else "FAIL",
                "notes": f"{schedules} schedules explored",
            }
        )
    rows += breakdown_rows(results)
    rows += isolation_rows(quick)
    rate = results["gradings"] / results["seconds"]
    rows.append(
        {
            "figure": "sustained gradings per second",
            "value": f"{rate:.2f}/s",
            "baseline": f"{results['gradings']} gradings, 2 worker processes",
            "target": ">= 2/s",
            "verdict": "PASS" if rate >= 2 else "FAIL",
            "notes": f"{results['lost']} lost",
        }
    )
    rows.append(
        {
            "figure": "worker peak RSS while grading",
            "value": f"{peak_kib / 1024:.0f} MiB",
            "baseline": "max over worker, pool processes, grader servers",
        }
    )
    return rows
