"""Simulator speed: schedules explored per second in-process and through the
jail (the jail as a ratio to in-process), plus the jail's own start and
round-trip costs as ratios to a bare interpreter and to in-process calls."""

from __future__ import annotations

import sys

SCENARIOS = ["idempotent_consumer", "order_saga_choreography"]


def run(quick: bool = False) -> list[dict]:
    import sandbox
    from bench.grading import jail_floor
    from sandbox import jailbench, scenarios
    from sandbox.jail import JailRunner

    schedules = 100 if quick else 500
    rows = []
    print("  measuring the jail floor ...", file=sys.stderr, flush=True)
    floor = jail_floor()
    for name in SCENARIOS:
        source = scenarios.all()[name].reference_source
        rates = {}
        for label, factory in (("in-process", None), ("jail", JailRunner)):
            print(
                f"  {name}: {schedules} random schedules {label} ...", file=sys.stderr, flush=True
            )
            report = sandbox.grade(name, source, runner_factory=factory, random_schedules=schedules)
            if report["status"] != "passed":
                raise RuntimeError(f"{name} reference did not pass {label}: {report['message']}")
            rates[label] = report["schedules_explored"] / max(report["duration_ms"] / 1000, 1e-9)
        # The grading itself, without the site's queue and database (bench.grading has those).
        ratio = report["duration_ms"] / 1000 / floor
        explored = report["schedules_explored"]
        graded = (
            {
                "figure": f"grade {name} through the jail ({explored} schedules)",
                "value": f"{report['duration_ms']} ms",
                "baseline": f"jail floor {floor * 1000:.0f} ms",
                "ratio": ratio,
                "target": "<= 5x floor, >= 500 schedules",
                "verdict": "PASS" if ratio <= 5 and explored >= 500 else "FAIL",
            },
        )
        rows.append(
            {
                "figure": f"simulator {name}, in-process",
                "value": f"{rates['in-process']:.0f} schedules/s",
                "baseline": "itself",
                "ratio": 1.0,
            }
        )
        rows.append(
            {
                "figure": f"simulator {name}, through the jail",
                "value": f"{rates['jail']:.0f} schedules/s",
                "baseline": "in-process",
                "ratio": rates["jail"] / rates["in-process"],
            }
        )
        rows.extend(graded)
    print("  jail start and round trips ...", file=sys.stderr, flush=True)
    jail = jailbench.bench(starts=10 if quick else 30, requests=1000 if quick else 5000)
    rows.append(
        {
            "figure": "jail start + close",
            "value": f"{jail['jail_start_ms']:.0f} ms",
            "baseline": f"python -c pass {jail['bare_start_ms']:.0f} ms",
            "ratio": jail["start_ratio"],
        }
    )
    rows.append(
        {
            "figure": "round trips through the jail",
            "value": f"{jail['jail_rt_per_s']:.0f}/s",
            "baseline": f"in-process {jail['inproc_rt_per_s']:.0f}/s",
            "ratio": 1 / jail["rt_ratio"],
        }
    )
    return rows
