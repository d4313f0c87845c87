"""Load test (a benchmark, not a timed test): concurrent simulated users read
lessons, take the Quick Test and submit code against gunicorn and real Celery
workers on loopback, for a bounded time. Then the queue must drain.

Pass criteria, printed, never asserted: zero 5xx, zero lost submissions,
queue drained. Run: python -m bench.loadtest [--seconds 30] [--users 8]
It also prints the p50/p95 time from submit to verdict of every submission
made at the users' sustained submission rate (printed beside it).

Abuse (fair share): `--abusers 20` runs the same learners (established
accounts) twice on fresh sites, alone and then beside 20 new abusive accounts (five per client address) that
resubmit the worst code allowed (it burns CPU in every call, up to the limits,
padded to the size limit) as fast as the site takes it, and prints the p95
time from submit to verdict of the normal learners in both runs.
`--compare-unfair` adds a third run with the fair-share limits switched off.
Every client has its own address (X-Forwarded-For behind one trusted proxy).
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
from bench.load import Client
from bench.server import ROOT, gunicorn

PASSWORD = "load-test-password-1"
LESSONS = [
    "why-distributed-transactions",
    "idempotency-keys",
    "transactional-outbox",
    "sagas-and-choreography",
    "orchestration",
    "two-phase-commit",
]


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
    status, _ = client.post(
        "/exercises/idempotent-consumer/submit/",
        {"client_token": token.group(1), "code": html.unescape(code.group(1))},
    )
    state["submitted"] = state.get("submitted", 0) + 1
    return status


ABUSIVE_ADDRESSES = 4
# The worst code allowed: every call spins the CPU (until the jail's limits stop it), at the size limit.
WORST_CODE = (
    "import time\n\n\ndef on_payment_captured(event, ctx):\n    began = time.process_time()\n"
    "    while time.process_time() - began < 0.05:\n        pass\n    ctx.db.put('x', 1)\n\n"
    + "# padding to the size limit\n"
    * 2200
)[: 63 * 1024]
# Fair share off (for --compare-unfair): limits no client reaches.
UNFAIR = {
    "GRADING_IN_FLIGHT_PER_ADDRESS": "100000",
    "GRADING_LOW_LANE_SLOTS": "100000",
    "GRADING_ACCOUNT_SHARE_SECONDS": "1000000000",
    "GRADING_ADDRESS_SHARE_SECONDS": "1000000000",
}


class AddressedClient(Client):
    """A client behind the (trusted) proxy, with its own address."""

    def __init__(self, base: str, address: str):
        super().__init__(base)
        self.address = address

    def _send(self, request):
        request.add_header("X-Forwarded-For", self.address)
        return super()._send(request)


def abuser(client: Client, state: dict):
    """Resubmit the worst allowed code as fast as the site accepts it (refusals are answers, not errors)."""
    _, page = client.get("/exercises/idempotent-consumer/")
    token = re.search(r'name="client_token" value="([^"]+)"', page)
    if not token:
        return 599
    status, _ = client.post(
        "/exercises/idempotent-consumer/submit/",
        {"client_token": token.group(1), "code": WORST_CODE},
    )
    state.setdefault("answers", {}).setdefault(status, 0)
    state["answers"][status] += 1
    time.sleep(0.5)
    return status


def _run_as(args) -> load.Result:
    base, scenario, seconds, email, address = args
    client = AddressedClient(base, address)
    client.login(email, PASSWORD)
    result = load.Result()
    state: dict = {}
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            status = scenario(client, state)
        except OSError:
            result.other_errors += 1
            continue
        if status is None:
            continue
        result.latencies.append(time.perf_counter() - start)
        result.requests += 1
        if status >= 500:
            result.errors_5xx += 1
    result.seconds = time.perf_counter() - began
    return result


def _rows(env: dict, query: str) -> list:
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "import json; from django.db import connection as c; cur=c.cursor(); "
            f"cur.execute({query!r}); print(json.dumps([list(r) for r in cur.fetchall()], default=str))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _sql(env: dict, query: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from django.db import connection as c; cur=c.cursor(); cur.execute({query!r}); "
            "print(cur.fetchone()[0])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument(
        "--abusers",
        type=int,
        default=0,
        help="abusive accounts beside the learners: measure time to verdict alone and under abuse",
    )
    parser.add_argument(
        "--compare-unfair", action="store_true", help="also run the abuse with fair share off"
    )
    args = parser.parse_args()
    if args.abusers:
        return abuse(args)
    _fresh_database(DATABASE)
    _flush_broker(BROKER)
    with gunicorn(
        workers=3, DATABASE_URL=DATABASE, CELERY_BROKER_URL=BROKER, SANDBOX_RANDOM_SCHEDULES="100"
    ) as (base, env):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "courseapp",
                "worker",
                "--loglevel=warning",
                "--concurrency=2",
                "--prefetch-multiplier=1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            users = [f"load{n}@example.com" for n in range(args.users)]
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from django.contrib.auth import get_user_model as g\n"
                    f"for e in {users!r}: g().objects.create_user(e.split('@')[0], e, {PASSWORD!r})",
                ],
                cwd=ROOT,
                env=env,
                check=True,
            )
            print(
                f"  {args.users} users for {args.seconds:.0f} s against {base} ...",
                file=sys.stderr,
                flush=True,
            )
            result = _hammer_as(base, users, args.seconds)
            print("  waiting for the queue to drain ...", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                in_flight = int(
                    _sql(
                        env,
                        "select count(*) from exercises_submission where status in ('queued','running')",
                    )
                )
                if in_flight == 0:
                    break
                print(f"    {in_flight} still queued or running", file=sys.stderr, flush=True)
                time.sleep(3)
            total = int(_sql(env, "select count(*) from exercises_submission"))
            graded = int(
                _sql(
                    env,
                    "select count(*) from exercises_submission where status in ('passed','failed','error')",
                )
            )
            verdict_times = [
                float(r[0])
                for r in _rows(
                    env,
                    "select extract(epoch from finished_at - created_at)::float8 "
                    "from exercises_submission where finished_at is not null",
                )
                if r[0] is not None
            ]
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    report = {
        "requests": result.requests,
        "throughput_rps": round(result.throughput, 1),
        "p50_ms": round(result.percentile(50), 1),
        "p95_ms": round(result.percentile(95), 1),
        "p99_ms": round(result.percentile(99), 1),
        "5xx": result.errors_5xx,
        "connection_errors": result.other_errors,
        "submissions": total,
        "graded": graded,
        "lost": total - graded,
        # Time from submit to verdict while the users submit at their sustained rate.
        "submissions_per_s": round(total / result.seconds, 2) if result.seconds else 0.0,
        "time_to_verdict_p50_s": round(_percentile(verdict_times, 50), 2),
        "time_to_verdict_p95_s": round(_percentile(verdict_times, 95), 2),
    }
    print(json.dumps(report, indent=2))
    print(
        f"time to verdict at {report['submissions_per_s']} submissions/s sustained: "
        f"p50 {report['time_to_verdict_p50_s']} s, p95 {report['time_to_verdict_p95_s']} s "
        f"({len(verdict_times)} verdicts)"
    )
    ok = report["5xx"] == 0 and report["lost"] == 0
    print("PASS" if ok else "FAIL", "(zero 5xx, zero lost submissions, queue drained)")
    return 0 if ok else 1


def _hammer_as(base: str, users: list[str], seconds: float) -> load.Result:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(len(users)) as pool:
        parts = pool.map(
            load._worker, [(base, mixed_user, seconds, (email, PASSWORD)) for email in users]
        )
    total = load.Result(seconds=max(p.seconds for p in parts))
    for part in parts:
        total.requests += part.requests
        total.errors_5xx += part.errors_5xx
        total.other_errors += part.other_errors
        total.latencies.extend(part.latencies)
    return total


# -- the abuse comparison ---------------------------------------------------------------------


def _phase(args, abusers: int, label: str, **extra_env: str) -> dict:
    _fresh_database(DATABASE)
    _flush_broker(BROKER)
    with gunicorn(
        workers=3,
        DATABASE_URL=DATABASE,
        CELERY_BROKER_URL=BROKER,
        SANDBOX_RANDOM_SCHEDULES="100",
        TRUSTED_PROXY_COUNT="1",
        **extra_env,
    ) as (base, env):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "courseapp",
                "worker",
                "--loglevel=warning",
                "--concurrency=2",
                "--prefetch-multiplier=1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            learners = [f"load{n}@example.com" for n in range(args.users)]
            bad = [f"abuser{n}@example.com" for n in range(abusers)]
            # Established accounts, created (and verified) before the run.
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from django.contrib.auth import get_user_model as g\n"
                    "from allauth.account.models import EmailAddress as E\n"
                    "from django.utils import timezone as t\n"
                    "from datetime import timedelta as d\n"
                    f"for e in {learners + bad!r}:\n"
                    f"    u = g().objects.create_user(e.split('@')[0], e, {PASSWORD!r})\n"
                    "    E.objects.create(user=u, email=e, primary=True, verified=True)\n"
                    "    if e.startswith('load'):\n"
                    "        g().objects.filter(pk=u.pk).update(date_joined=t.now() - d(days=30))",
                ],
                cwd=ROOT,
                env=env,
                check=True,
            )
            jobs = [
                (base, mixed_user, args.seconds, email, f"198.51.100.{n + 1}")
                for n, email in enumerate(learners)
            ]
            jobs += [
                (base, abuser, args.seconds, email, f"203.0.113.{n % ABUSIVE_ADDRESSES + 1}")
                for n, email in enumerate(bad)
            ]
            print(
                f"  {label}: {len(learners)} learners, {len(bad)} abusers for {args.seconds:.0f} s ...",
                file=sys.stderr,
                flush=True,
            )
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
                parts = pool.map(_run_as, jobs)
            print("  waiting for the queue to drain ...", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                in_flight = int(
                    _sql(
                        env,
                        "select count(*) from exercises_submission "
                        "where status in ('queued','running')",
                    )
                )
                if in_flight == 0:
                    break
                time.sleep(3)
            rows = _rows(
                env,
                "select u.email, s.status, s.lane, "
                "extract(epoch from s.finished_at - s.created_at)::float8 "
                "from exercises_submission s join auth_user u on u.id = s.user_id",
            )
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    normal = [float(r[3]) for r in rows if r[0].startswith("load") and r[3] is not None]
    abusive = [r for r in rows if r[0].startswith("abuser")]
    abusive_times = [float(r[3]) for r in abusive if r[3] is not None]
    learner_parts = parts[: len(learners)]
    return {
        "phase": label,
        "learner_submissions": len(normal),
        "p50_time_to_verdict_s": round(_percentile(normal, 50), 2),
        "p95_time_to_verdict_s": round(_percentile(normal, 95), 2),
        "max_time_to_verdict_s": round(max(normal, default=0), 2),
        "abusive_submissions_accepted": len(abusive),
        "abusive_in_low_lane": sum(1 for r in abusive if r[2] == "low"),
        "abusive_p50_time_to_verdict_s": round(_percentile(abusive_times, 50), 2),
        "learner_request_p95_ms": round(
            _percentile([x for p in learner_parts for x in p.latencies], 95) * 1000, 1
        ),
        "5xx": sum(p.errors_5xx for p in parts),
        "connection_errors": sum(p.other_errors for p in parts),
        "lost": sum(1 for r in rows if r[1] in ("queued", "running")),
    }


def abuse(args) -> int:
    phases = [
        _phase(args, 0, "learners alone"),
        _phase(args, args.abusers, f"beside {args.abusers} abusers"),
    ]
    if args.compare_unfair:
        phases.append(
            _phase(args, args.abusers, f"beside {args.abusers} abusers, fair share off", **UNFAIR)
        )
    print(json.dumps(phases, indent=2))
    alone, abused = phases[0], phases[1]
    ratio = (
        abused["p95_time_to_verdict_s"] / alone["p95_time_to_verdict_s"]
        if alone["p95_time_to_verdict_s"]
        else 0
    )
    print(
        f"p95 time to verdict for learners: {alone['p95_time_to_verdict_s']} s alone, "
        f"{abused['p95_time_to_verdict_s']} s beside {args.abusers} abusers (x{ratio:.1f})"
        + (
            f", {phases[2]['p95_time_to_verdict_s']} s with fair share off"
            if args.compare_unfair
            else ""
        )
    )
    ok = all(p["5xx"] == 0 and p["lost"] == 0 for p in phases)
    print("PASS" if ok else "FAIL", "(zero 5xx, zero lost submissions, queue drained)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
