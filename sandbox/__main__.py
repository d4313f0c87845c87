"""Command line: ``python -m sandbox scenarios|run|bench|mutate``.

scenarios [--json]                      list the scenarios
run SCENARIO [--variant V | --file F] [--seed N] [--schedules N] [--json]
                                        grade the reference (or a variant, or a file)
                                        in-process; exit 0 if every invariant holds, 1 if not
bench [--schedules N] [--jail]          schedules/s and simulated steps/s per scenario,
                                        each beside a plain-dict baseline measured in the same run
mutate SCENARIO... | --all [--json] [--sample N] [--schedules N] [--workers N]
                                        grade mutants of the references (sandbox/mutate.py);
                                        exit 0 if every mutant is killed or listed as equivalent/allowed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import mutate, scenarios
from .explore import Session, _plan, grade
from .jail import JailRunner
from .report import Status
from .rng import schedule_seed
from .runner import InProcessRunner, Limits, RunnerFactory


def _cmd_scenarios(args: argparse.Namespace) -> int:
    items = [sc.as_dict() for sc in scenarios.all().values()]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for sc in items:
        print(f"{sc['name']:26} {sc['title']}")
        print(f"{'':26} functions:  {', '.join(sc['functions'])}")
        print(f"{'':26} invariants: {', '.join(sc['invariants'])}")
        print(f"{'':26} variants:   " + ", ".join(f"{k} ({v})" for k, v in sc["variants"].items()))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    sc = scenarios.get(args.scenario)
    if args.file:
        with open(args.file) as fh:
            source = fh.read()
    elif args.variant:
        if args.variant not in sc.variants:
            print(
                f"unknown variant {args.variant!r}; known: {', '.join(sc.variants)}",
                file=sys.stderr,
            )
            return 2
        source = sc.variants[args.variant][0]
    else:
        source = sc.reference_source
    report = grade(args.scenario, source, seed=args.seed, random_schedules=args.schedules)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['status'].upper()}: {report['message']}")
        print(
            f"explored {report['schedules_explored']} schedules in {report['duration_ms']} ms; faults fired: "
            + ", ".join(f"{k}={v}" for k, v in report["fault_kinds_explored"].items())
        )
        for inv in report["invariants"]:
            print(f"  [{'x' if inv['held'] else ' '}] {inv['name']}: {inv['title']}")
        ce = report["counterexample"]
        if ce and report["status"] == Status.FAILED:
            print(f"counterexample (seed {ce['seed']}): {json.dumps(ce['schedule'])}")
            for step in ce["trace"]:
                arrow = f" -> {step['to']}" if step.get("to") else ""
                print(
                    f"  t={step['t']:>6} {step['service']:>12}{arrow:14} {step['kind']:10} {step['detail']}"
                )
    if report["status"] in (Status.ERROR, Status.TIMEOUT):
        return 2
    return 0 if report["status"] == Status.PASSED else 1


def _baseline(ops: int) -> float:
    """Seconds for ``ops`` plain dict writes and reads: the yardstick."""
    d: dict[int, int] = {}
    started = time.perf_counter()
    for i in range(ops):
        d[i & 1023] = i
        d.get(i & 511)
    return max(time.perf_counter() - started, 1e-9)


def _cmd_bench(args: argparse.Namespace) -> int:
    total_runs = total_steps = 0
    total_time = 0.0
    _baseline(200_000)  # warm up the yardstick
    print(
        f"{'scenario':26} {'schedules/s':>12} {'steps/s':>12} {'dict ops/s':>12}  step cost in dict ops"
    )
    factory: RunnerFactory = InProcessRunner
    if args.jail:
        factory = JailRunner
    for name, sc in scenarios.all().items():
        print(f"  running {name} ...", end="\r", file=sys.stderr, flush=True)
        runner = factory(sc.reference_source, Limits())
        session = Session(sc, runner, {})
        steps = 0
        started = time.perf_counter()
        for i in range(args.schedules):
            seed = schedule_seed(0, i)
            world, _ = session.run(_plan(sc, "random", seed), seed)
            steps += world.sched.steps
            print(
                f"  running {name} ... {i + 1}/{args.schedules}",
                end="\r",
                file=sys.stderr,
                flush=True,
            )
        elapsed = time.perf_counter() - started
        runner.close()
        base = _baseline(steps * 10) / 10  # seconds per `steps` dict ops, measured now
        total_runs += args.schedules
        total_steps += steps
        total_time += elapsed
        print(
            f"{name:26} {args.schedules / elapsed:12.0f} {steps / elapsed:12.0f} {steps / base:12.0f}  "
            f"1 step = {elapsed / base:,.0f} dict ops"
        )
    base = _baseline(total_steps * 10) / 10
    print(
        f"{'all':26} {total_runs / total_time:12.0f} {total_steps / total_time:12.0f} "
        f"{total_steps / base:12.0f}  1 step = {total_time / base:,.0f} dict ops"
    )
    return 0


def _cmd_mutate(args: argparse.Namespace) -> int:
    if args.all == bool(args.scenario):
        print("name one or more scenarios, or --all", file=sys.stderr)
        return 2
    names = list(scenarios.NAMES) if args.all else args.scenario
    for name in names:
        if name not in scenarios.NAMES:
            print(
                f"unknown scenario {name!r}; known: {', '.join(scenarios.NAMES)}", file=sys.stderr
            )
            return 2
    started = time.perf_counter()
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    results = mutate.run(
        names,
        schedules=args.schedules,
        sample_size=args.sample,
        workers=args.workers,
        progress=progress,
    )
    elapsed = time.perf_counter() - started
    survivors = [(r.name, row) for r in results for row in r.rows if row["verdict"] == "survived"]
    if args.json:
        print(
            json.dumps(
                {
                    "schedules": args.schedules,
                    "sample": args.sample,
                    "seconds": round(elapsed, 2),
                    "scenarios": [r.as_dict() for r in results],
                    "survivors": [
                        {"scenario": name, "id": row["id"], "description": row["description"]}
                        for name, row in survivors
                    ],
                },
                indent=2,
            )
        )
    else:
        mutate.render(results)
        print(
            f"\n{sum(len(r.rows) for r in results)} mutants, {len(survivors)} surviving, "
            f"{elapsed:.0f} s wall time ({args.workers} workers, {args.schedules} random schedules each)"
        )
    broken = [r.name for r in results if r.reference != "passed"]
    if broken:
        print(f"reference did not pass: {', '.join(broken)}", file=sys.stderr)
    return 1 if survivors or broken else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="The mini saga environment."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scenarios", help="list the scenarios")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_scenarios)
    p = sub.add_parser(
        "run", help="grade a scenario's reference, a variant or a file (trusted, in-process)"
    )
    p.add_argument("scenario")
    p.add_argument("--variant")
    p.add_argument("--file", help="a source file (trusted code only: runs in this process)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedules", type=int, default=500)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("bench", help="measure exploration speed")
    p.add_argument("--schedules", type=int, default=200)
    p.add_argument(
        "--jail", action="store_true", help="run the reference code in the jail (JailRunner)"
    )
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser(
        "mutate", help="mutation testing: does the grader catch mutants of the reference?"
    )
    p.add_argument("scenario", nargs="*")
    p.add_argument("--all", action="store_true", help="every scenario")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sample", type=int, help="grade a fixed sample of N mutants per scenario")
    p.add_argument(
        "--schedules", type=int, default=500, help="random schedules per mutant (default 500)"
    )
    p.add_argument("--workers", type=int, default=2, help="grading processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_mutate)
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
        return status
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
