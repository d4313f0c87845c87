"""Load test (a benchmark, not a timed test): concurrent simulated users read
lessons, take the Quick Test and submit code against gunicorn and real Celery
workers on loopback, for a bounded time. Then the queue must drain.

Pass criteria, printed, never asserted: zero 5xx, zero lost submissions,
queue drained. Run: python -m bench.loadtest [--seconds 30] [--users 8]
"""
from __future__ import annotations

import argparse
import html
import json
import random
import re
import subprocess
import sys
import time

from bench import load
from bench.grading import BROKER, DATABASE, _flush_broker, _fresh_database
from bench.server import ROOT, gunicorn

PASSWORD = "load-test-password-1"
LESSONS = ["why-distributed-transactions", "idempotency-keys", "transactional-outbox", "sagas-and-choreography",
           "orchestration", "two-phase-commit"]


def mixed_user(client: load.Client, state: dict):
    """One simulated learner: mostly reading, some Quick Test, now and then a submission."""
    roll = state.setdefault("rng", random.Random(id(state))).random()
    if roll < 0.5:
        return client.get(f"/lessons/{random.choice(LESSONS)}/")[0]
    if roll < 0.85:
        return load.quiz_answer(client, state.setdefault("quiz", {})) or 200
    if state.get("last_submit", 0) > time.monotonic() - 5:
        return client.get("/dashboard/")[0]
    state["last_submit"] = time.monotonic()
    _, page = client.get("/exercises/idempotent-consumer/")
    token = re.search(r'name="client_token" value="([^"]+)"', page)
    code = re.search(r'<textarea[^>]*name="code"[^>]*>(.*?)</textarea>', page, re.S)
    if not token or not code:
        return 599  # the page did not render its form: count as a server failure
    status, _ = client.post("/exercises/idempotent-consumer/submit/",
                            {"client_token": token.group(1), "code": html.unescape(code.group(1))})
    state["submitted"] = state.get("submitted", 0) + 1
    return status


def _sql(env: dict, query: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          f"from django.db import connection as c; cur=c.cursor(); cur.execute({query!r}); "
                          "print(cur.fetchone()[0])"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()
    _fresh_database(DATABASE)
    _flush_broker(BROKER)
    with gunicorn(workers=3, DATABASE_URL=DATABASE, CELERY_BROKER_URL=BROKER, SANDBOX_RANDOM_SCHEDULES="100") as (
            base, env):
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "courseapp", "worker", "--loglevel=warning",
                                   "--concurrency=2", "--prefetch-multiplier=1"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL)
        try:
            users = [f"load{n}@example.com" for n in range(args.users)]
            subprocess.run([sys.executable, "manage.py", "shell", "-c",
                            "from django.contrib.auth import get_user_model as g\n"
                            f"for e in {users!r}: g().objects.create_user(e.split('@')[0], e, {PASSWORD!r})"],
                           cwd=ROOT, env=env, check=True)
            print(f"  {args.users} users for {args.seconds:.0f} s against {base} ...", file=sys.stderr, flush=True)
            result = _hammer_as(base, users, args.seconds)
            print("  waiting for the queue to drain ...", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                in_flight = int(_sql(env, "select count(*) from exercises_submission where status in ('queued','running')"))
                if in_flight == 0:
                    break
                print(f"    {in_flight} still queued or running", file=sys.stderr, flush=True)
                time.sleep(3)
            total = int(_sql(env, "select count(*) from exercises_submission"))
            graded = int(_sql(env, "select count(*) from exercises_submission where status in ('passed','failed','error')"))
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    report = {"requests": result.requests, "throughput_rps": round(result.throughput, 1),
              "p50_ms": round(result.percentile(50), 1), "p95_ms": round(result.percentile(95), 1),
              "p99_ms": round(result.percentile(99), 1), "5xx": result.errors_5xx,
              "connection_errors": result.other_errors, "submissions": total, "graded": graded,
              "lost": total - graded}
    print(json.dumps(report, indent=2))
    ok = report["5xx"] == 0 and report["lost"] == 0
    print("PASS" if ok else "FAIL", "(zero 5xx, zero lost submissions, queue drained)")
    return 0 if ok else 1


def _hammer_as(base: str, users: list[str], seconds: float) -> load.Result:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(len(users)) as pool:
        parts = pool.map(load._worker, [(base, mixed_user, seconds, (email, PASSWORD)) for email in users])
    total = load.Result(seconds=max(p.seconds for p in parts))
    for part in parts:
        total.requests += part.requests
        total.errors_5xx += part.errors_5xx
        total.other_errors += part.other_errors
        total.latencies.extend(part.latencies)
    return total


if __name__ == "__main__":
    sys.exit(main())
