"""`make bench`: one table, each figure beside its baseline measured in the same run.

Targets are printed as PASS or FAIL and never asserted in tests: timings on a
shared 2-core machine are noisy, ratios much less so.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="shorter runs (smoke test of the harness)"
    )
    parser.add_argument(
        "--only", choices=["pages", "grading", "simulator", "scaling", "mutate"], action="append"
    )
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 8.0
    sections = args.only or ["simulator", "pages", "grading", "scaling", "mutate"]
    rows: list[dict] = []
    started = time.time()
    for section in sections:
        print(f"[{section}]", file=sys.stderr, flush=True)
        if section == "pages":
            from bench import pages

            rows += pages.run(seconds=seconds)
        elif section == "grading":
            from bench import grading

            rows += grading.run(quick=args.quick)
        elif section == "simulator":
            from bench import simulator

            rows += simulator.run(quick=args.quick)
        elif section == "scaling":
            from bench import scaling

            rows += scaling.run(quick=args.quick)
        elif section == "mutate":
            from bench import mutate

            rows += mutate.run(quick=args.quick)
    print_table(rows)
    print(
        f"\n(total {time.time() - started:.0f} s; command: python -m bench"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {name}" for name in args.only or [])
        + ")"
    )
    return 0


def print_table(rows: list[dict]) -> None:
    headers = [
        "figure",
        "value",
        "baseline",
        "ratio",
        "p50_ms",
        "p95_ms",
        "notes",
        "target",
        "verdict",
    ]
    table = [[_cell(row.get(h)) for h in headers] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(headers)
    ]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths))
    print("\n" + line + "\n" + "-+-".join("-" * w for w in widths))
    for row in table:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
