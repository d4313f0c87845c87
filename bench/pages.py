"""Page throughput under gunicorn, each as a ratio to a hello-world view
served by the same gunicorn in the same run."""

from __future__ import annotations

import sys

from bench import load
from bench.server import EMAIL, PASSWORD, gunicorn

TARGETS = {"lesson page": 0.50, "Quick Test answer POST": 0.35, "dashboard (signed in)": 0.35}


def run(seconds: float = 8.0, clients: int = 4) -> list[dict]:
    rows = []
    with gunicorn(workers=2) as (base, _env):
        plan = [
            ("hello-world view (baseline)", load.hello, None),
            ("lesson page", load.lesson_page, None),
            ("Quick Test answer POST", load.quiz_answer, None),
            ("dashboard (signed in)", load.dashboard, (EMAIL, PASSWORD)),
        ]
        baseline = None
        for name, scenario, login in plan:
            print(
                f"  {name}: {clients} clients for {seconds:.0f} s ...", file=sys.stderr, flush=True
            )
            result = load.hammer(base, scenario, seconds, clients, login)
            baseline = baseline or result.rate
            ratio = result.rate / baseline if baseline else 0.0
            target = TARGETS.get(name)
            rows.append(
                {
                    "figure": f"{name} throughput",
                    "value": f"{result.rate:.0f} req/s",
                    "p50_ms": round(result.percentile(50), 1),
                    "p95_ms": round(result.percentile(95), 1),
                    "ratio": ratio,
                    "baseline": "hello-world",
                    # The rate counts only the time spent on measured requests; beside it, the
                    # rate over the whole run, set-up steps included (they differ for the
                    # Quick Test, whose questions are read between answers).
                    "notes": f"{result.errors_5xx} 5xx; {result.throughput:.0f}/s over the run",
                    "target": f">= {target:.0%}" if target else "",
                    "verdict": ("PASS" if ratio >= target else "FAIL") if target else "",
                }
            )
    return rows
