"""How cost grows: time per grading as the exploration grows (the reference of
each benchmark exercise graded through the jail at three sizes; the time per
schedule at the larger sizes as a ratio to the smallest, measured in the same
run), and gradings per second through the real pipeline with one and with two
worker processes (the second as a ratio to the first)."""

from __future__ import annotations

import sys
import time

from bench import grading

SCENARIOS = ["idempotent_consumer", "order_saga_choreography"]
SIZES = (500, 2000, 10000)
QUICK_SIZES = (50, 200, 1000)  # the same 1:4:20 steps, for the smoke run
LINEAR_WITHIN = 1.5  # time per schedule at a larger size, against the smallest
WORKERS_AT_LEAST = 1.5  # gradings per second, two worker processes against one


def exploration_rows(sizes: tuple[int, ...]) -> list[dict]:
    import sandbox
    from sandbox import scenarios
    from sandbox.jail import JailRunner
    from sandbox.runner import MAX_LIMITS

    rows = []
    for name in SCENARIOS:
        source = scenarios.all()[name].reference_source
        base_per_schedule = None
        for size in sizes:
            print(
                f"  {name}: {size} random schedules through the jail ...",
                file=sys.stderr,
                flush=True,
            )
            began = time.perf_counter()
            # The ceiling limits: the default total wall-time budget is sized for 500 schedules.
            report = sandbox.grade(
                name, source, runner_factory=JailRunner, random_schedules=size, limits=MAX_LIMITS
            )
            seconds = time.perf_counter() - began
            explored = report["schedules_explored"]
            row: dict = {
                "figure": f"grading {name}, {size:,} random schedules (jail)",
                "value": f"{seconds:.2f} s",
                "notes": f"{explored} explored, {explored / seconds:.0f} schedules/s",
            }
            if report["status"] != "passed" or not explored:
                row["notes"] += f"; reference {report['status']}: {report.get('message', '')[:60]}"
                row["verdict"] = "FAIL"
                rows.append(row)
                continue
            per_schedule = seconds / explored
            if base_per_schedule is None:
                base_per_schedule = per_schedule
                row.update(baseline="itself (per schedule)", ratio=1.0)
            else:
                ratio = per_schedule / base_per_schedule
                row.update(
                    baseline=f"{sizes[0]:,} schedules: {base_per_schedule * 1000:.2f} ms/schedule",
                    ratio=ratio,
                    target=f"time/schedule <= {LINEAR_WITHIN}x",
                    verdict="PASS" if ratio <= LINEAR_WITHIN else "FAIL",
                )
            rows.append(row)
    return rows


def worker_rows(quick: bool) -> list[dict]:
    per_exercise = 3 if quick else 10
    rates = {}
    with grading.bench_site() as env:
        for concurrency in (1, 2):
            print(
                f"  {concurrency} worker process(es): {per_exercise} gradings per exercise ...",
                file=sys.stderr,
                flush=True,
            )
            # As many learners in flight as worker processes, plus one so a process never idles.
            results, _peak = grading.pipeline(env, concurrency, per_exercise, concurrency + 1)
            rates[concurrency] = (results["gradings"] / results["seconds"], results)
    rows = []
    for concurrency, (rate, results) in rates.items():
        row: dict = {
            "figure": f"gradings per second, {concurrency} worker process{'es' if concurrency > 1 else ''}",
            "value": f"{rate:.2f}/s",
            "notes": f"{results['gradings']} gradings, {results['lost']} lost",
        }
        if concurrency == 1:
            row.update(baseline="itself", ratio=1.0)
        else:
            ratio = rate / rates[1][0] if rates[1][0] else 0.0
            row.update(
                baseline=f"1 worker process: {rates[1][0]:.2f}/s",
                ratio=ratio,
                target=f">= {WORKERS_AT_LEAST}x",
                verdict="PASS" if ratio >= WORKERS_AT_LEAST else "FAIL",
            )
        rows.append(row)
    return rows


def run(quick: bool = False) -> list[dict]:
    return exploration_rows(QUICK_SIZES if quick else SIZES) + worker_rows(quick)
