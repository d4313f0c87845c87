"""Page throughput under gunicorn, each as a ratio to a hello-world view
served by the same gunicorn in the same run, measured just before and just after it."""

from __future__ import annotations

import sys

from bench import load
from bench.server import EMAIL, PASSWORD, cpu_seconds, gunicorn

TARGETS = {"lesson page": 0.50, "Quick Test answer POST": 0.35, "dashboard (signed in)": 0.35}


def run(seconds: float = 8.0, clients: int = 4) -> list[dict]:
    """Each page is measured between two hello-world runs and compared with their mean: the
    machine is shared, and its load drifts more over a minute than over half of one."""
    pages = [
        ("lesson page", load.lesson_page, None),
        ("Quick Test answer POST", load.quiz_answer, None),
        ("dashboard (signed in)", load.dashboard, (EMAIL, PASSWORD)),
    ]
    with gunicorn(workers=2) as (base, _env):

        def measure(name: str, scenario, login) -> load.Result:
            print(
                f"  {name}: {clients} clients for {seconds:.0f} s ...", file=sys.stderr, flush=True
            )
            # Signed in before the clocks start: a log-in's password hash is no part of a page.
            sessions = load.signed_in(base, login, clients) if login else None
            before = cpu_seconds(base)
            result = load.hammer(base, scenario, seconds, clients, cookies=sessions)
            after = cpu_seconds(base)
            if before is not None and after is not None and result.requests:
                # Less noisy than the rates on a shared machine: the server's own work.
                result.server_cpu_ms = (after - before) / result.requests * 1000
            return result

        hellos = [measure("hello-world view (baseline)", load.hello, None)]
        measured = []
        for name, scenario, login in pages:
            result = measure(name, scenario, login)
            hellos.append(measure("hello-world view (baseline)", load.hello, None))
            measured.append((name, result, (hellos[-2].rate + hellos[-1].rate) / 2))
    hello = load.Result(
        seconds=sum(h.seconds for h in hellos),
        rate=sum(h.rate for h in hellos) / len(hellos),
        requests=sum(h.requests for h in hellos),
        errors_5xx=sum(h.errors_5xx for h in hellos),
        latencies=[latency for h in hellos for latency in h.latencies],
    )
    spread = f"{min(h.rate for h in hellos):.0f} to {max(h.rate for h in hellos):.0f}/s"
    hello_cpu = [h.server_cpu_ms for h in hellos if h.server_cpu_ms is not None]
    note = f"{hello.errors_5xx} 5xx; mean of 4 runs, {spread}"
    if hello_cpu:
        note += f"; server CPU {sum(hello_cpu) / len(hello_cpu):.2f} ms/req"
    rows = [_row("hello-world view (baseline)", hello, hello.rate, note)]
    rows += [_row(name, result, baseline) for name, result, baseline in measured]
    return rows


def _row(name: str, result: load.Result, baseline: float, note: str = "") -> dict:
    ratio = result.rate / baseline if baseline else 0.0
    target = TARGETS.get(name)
    return {
        "figure": f"{name} throughput",
        "value": f"{result.rate:.0f} req/s",
        "p50_ms": round(result.percentile(50), 1),
        "p95_ms": round(result.percentile(95), 1),
        "ratio": ratio,
        "baseline": "hello-world" if note else f"hello-world {baseline:.0f}/s",
        # The rate counts only the time spent on measured requests; beside it, the rate over
        # the whole run, set-up steps included (they differ for the Quick Test, whose
        # questions are read between answers), and the server's CPU per measured request (the
        # set-up steps' share included).
        "notes": note
        or f"{result.errors_5xx} 5xx; {result.throughput:.0f}/s over the run"
        + (
            f"; server CPU {result.server_cpu_ms:.2f} ms/req"
            if result.server_cpu_ms is not None
            else ""
        ),
        "target": f">= {target:.0%}" if target else "",
        "verdict": ("PASS" if ratio >= target else "FAIL") if target else "",
    }
