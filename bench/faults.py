"""Fault drills at benchmark size: `python -m bench.faults [--submissions 100] [--only redis ...]`.

The CI test (tests/test_service_faults.py) runs each drill on 24 submissions;
this runs them on 100 each against one private stack (its own PostgreSQL and
Redis on free ports, gunicorn, a Celery worker with two processes, the jail).
In the middle of each batch one part is broken: Redis restarted (nothing kept
on disk: every queued message is lost), PostgreSQL restarted, gunicorn
SIGKILLed and started again, the worker SIGKILLed and started again. The
sweeper runs every 5 s as beat would, with shortened waits (5 s for a request
never sent, 60 s for one sent and still queued; production: 30 s and 10 min).

Printed, never asserted: per drill, submissions and verdicts, the deliveries
histogram, verdict writes per submission (from the worker's log), what the
learners were answered while the part was down, and the time to drain.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.__main__ import print_table
from tests.services import BATCH_FAULTS, FaultDrill, Stack, missing_tools

TITLES = {
    "redis": "restart Redis",
    "postgres": "restart PostgreSQL",
    "web": "SIGKILL gunicorn",
    "worker": "SIGKILL the worker",
}


def run(submissions: int = 100, faults: tuple[str, ...] = BATCH_FAULTS) -> list[dict]:
    missing = missing_tools()
    if missing:
        print(f"  fault drills skipped: missing {', '.join(missing)}", file=sys.stderr)
        return []
    # 100 submissions queue for longer than the CI test's 15 s: presume a sent one lost after 60 s.
    stack = Stack(learners=submissions * len(faults), redispatch_seconds=60)
    rows = []
    try:
        print(
            f"  starting a private stack for {submissions * len(faults)} learners ...",
            file=sys.stderr,
            flush=True,
        )
        stack.start()
        for index, fault in enumerate(faults):
            print(
                f"  drill: {TITLES[fault]} in the middle of {submissions} submissions ...",
                file=sys.stderr,
                flush=True,
            )
            report = FaultDrill(
                stack,
                fault,
                stack.sessions[index * submissions : (index + 1) * submissions],
                parallel=4,
                pace=0.05,
                down_seconds=6,
                drain_seconds=900,
            ).run()
            print(f"  {report.summary()}", file=sys.stderr, flush=True)
            one_each = (
                report.drained
                and report.rows == report.submissions
                and not report.wrong_verdicts
                and report.unfinished == 0
                and set(report.verdict_writes) <= {0, 1}
            )
            unclear = sum(1 for a in report.answers if a.status and not a.clear)
            unclear += sum(
                n
                for key, n in report.pages_while_down.items()
                if key.startswith("5") and "clear" not in key
            )
            graded = sum(report.statuses.get(s, 0) for s in ("passed", "failed", "error"))
            rows.append(
                {
                    "figure": f"fault: {TITLES[fault]}",
                    "value": f"{graded}/{report.submissions} graded once",
                    "baseline": f"deliveries {dict(sorted(report.deliveries.items()))}",
                    "notes": (
                        f"writes/submission {dict(sorted(report.verdict_writes.items()))}; refusals "
                        f"{report.answer_counts} ({report.refused_after_recovery} once back); accepted while down "
                        f"{report.accepted_while_down}; exited and restarted {report.exits}; pages while "
                        f"down {report.pages_while_down}; drained in {report.seconds:.0f} s"
                    ),
                    "target": "one verdict each, clear 503s",
                    "verdict": "PASS" if one_each and unclear == 0 else "FAIL",
                }
            )
    finally:
        stack.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--submissions", type=int, default=100, help="per drill")
    parser.add_argument("--only", choices=BATCH_FAULTS, action="append")
    args = parser.parse_args()
    started = time.time()
    rows = run(args.submissions, tuple(args.only or BATCH_FAULTS))
    print_table(rows)
    print(
        f"\n(total {time.time() - started:.0f} s; command: python -m bench.faults"
        f"{'' if args.submissions == 100 else f' --submissions {args.submissions}'})"
    )
    return 0 if all(row["verdict"] == "PASS" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
