"""Private, throwaway copies of every part of the production-like stack, for
fault tests and the fault benchmark: a PostgreSQL cluster and a Redis server
on free ports (never the shared ones), gunicorn serving the site, and real
Celery workers. Each part can be stopped, killed and started again.

`FaultDrill` submits a batch of exercise solutions through the site's own
form (HTTP, CSRF, sessions) as separate learners, breaks one part in the
middle of the batch, and reports what every learner saw and what the
database and the worker logs say happened to every submission.

Plain Python: no Django in this process (the site, the workers and the
sweeper are subprocesses pointed at the private services).
"""

from __future__ import annotations

import collections
import html
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from tests.workers import Worker, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = "idempotent-consumer"
# The parts a drill can break, in the order the tests and the benchmark run them.
BATCH_FAULTS = ("redis", "postgres", "web", "worker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_tools() -> list[str]:
    """What this machine lacks to run the private stack (empty: nothing)."""
    missing = [tool for tool in ("redis-server", "bwrap") if shutil.which(tool) is None]
    if not _pg_bin("initdb"):
        missing.append("PostgreSQL server binaries (initdb)")
    return missing


def _pg_bin(name: str) -> str:
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    return str(found[-1]) if found else (shutil.which(name) or "")


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the postgres system user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="saga-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def url(self, name: str = "saga") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
            # Shared memory in the data directory: a cleanup of /dev/shm elsewhere cannot break it.
            "-c dynamic_shared_memory_type=mmap"
        )
        self._ctl("-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: roll back and disconnect every session; immediate: as if the machine lost power."""
        self._ctl("-w", "-t", "60", "-m", mode, "stop")

    def create_database(self, name: str = "saga") -> str:
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def connect(self, name: str = "saga"):
        import psycopg

        return psycopg.connect(self.url(name), autocommit=True, connect_timeout=5)

    def rows(self, sql: str, *params) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A Redis server that keeps nothing on disk: a restart loses every queued message."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="saga-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        with (self.dir / "server.log").open("a") as log:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_for(self._answers, 20, 0.05):
            raise RuntimeError("the private Redis did not start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class WebServer:
    """gunicorn serving the site; SIGKILL takes the master and every worker at once."""

    def __init__(self, env: dict, workers: int = 2):
        self.env, self.workers = env, workers
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="saga-web-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "courseapp.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--timeout",
                    "60",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if (
            not wait_for(
                lambda: (
                    http_get(self.base + "/health/live/")[0] == 200 or self.proc.poll() is not None
                ),
                60,
                0.1,
            )
            or self.proc.poll() is not None
        ):
            raise RuntimeError("gunicorn did not start:\n" + self.log()[-3000:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log_path.unlink(missing_ok=True)


def http_get(
    url: str, headers: dict | None = None, timeout: float = 30, source: str = ""
) -> tuple[int, str, dict]:
    return http_request("GET", url, headers=headers, timeout=timeout, source=source)


def http_request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30,
    source: str = "",
) -> tuple[int, str, dict]:
    """(status, body, headers); status 0 when nothing answered (refused, reset, timed out). No redirects.
    `source` picks the client's loopback address (any of 127.0.0.0/8), so learners are different people."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        conn.request(
            method,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            body=body,
            headers=headers or {},
        )
        response = conn.getresponse()
        return (
            response.status,
            response.read().decode("utf-8", "replace"),
            dict(response.getheaders()),
        )
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}", {}
    finally:
        conn.close()


# -- the whole stack ------------------------------------------------------------------

WORKER_ENV = {
    "SANDBOX_RANDOM_SCHEDULES": "40",  # the drill is about the pipeline, not the exploration
    "CELERY_TASK_TIME_LIMIT": "10",
    "CELERY_VISIBILITY_TIMEOUT": "15",  # a killed worker's unacknowledged task comes back after this
}
# The sweeper's waits, shortened from production's (30 s grace for a request never sent,
# 10 min before a sent-but-still-queued one is presumed lost) so a drill need not wait minutes.
SWEEP_GRACE_SECONDS = 5
SWEEP_REDISPATCH_SECONDS = 15


class Stack:
    """PostgreSQL, Redis, gunicorn and a Celery worker, all private to one test module or benchmark."""

    def __init__(
        self,
        learners: int,
        worker_concurrency: int = 2,
        redispatch_seconds: int = SWEEP_REDISPATCH_SECONDS,
    ):
        self.pg = PrivatePostgres()
        self.redis = PrivateRedis()
        self.learners_wanted = learners
        self.worker_concurrency = worker_concurrency
        # Keep it above the longest wait in the queue, or every sweep sends the backlog again
        # (harmless, but the sweeper gives up on a submission sent too many times).
        self.redispatch_seconds = redispatch_seconds
        self.web: WebServer | None = None
        self.worker: Worker | None = None
        self.sessions: list[str] = []
        self.code: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.sweep_errors: list[str] = []

    def env(self, **extra: str) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DEBUG", "CACHE_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            DEBUG="0",
            SECRET_KEY="fault-drill-secret-key-" + "x" * 40,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            SECURE_COOKIES="0",
            SECURE_HSTS_SECONDS="0",
            LOG_LEVEL="INFO",
            DATABASE_URL=self.pg.url(),
            CELERY_BROKER_URL=self.redis.url(0),
            CACHE_URL=self.redis.url(1),
            SANDBOX_ALLOW_UNJAILED="0",
            PYTHONUNBUFFERED="1",
            **WORKER_ENV,
        )
        env.update(extra)
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self) -> None:
        began = time.monotonic()
        self.pg.start()
        self.pg.create_database()
        self.redis.start()
        self.timings["services"] = time.monotonic() - began
        began = time.monotonic()
        self.manage("migrate", "--noinput")
        self.manage("load_content", "--verbosity", "0")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        self.timings["site"] = time.monotonic() - began
        self._learners()
        began = time.monotonic()
        self.web = WebServer(self.env())
        self.web.start()
        self.worker = Worker(
            [
                f"--concurrency={self.worker_concurrency}",
                "--prefetch-multiplier=1",
                "--pool=prefork",
            ],
            self.env(),
        )
        self.worker.start()
        self.timings["processes"] = time.monotonic() - began

    def _learners(self) -> None:
        """Accounts with signed-in sessions (as if each had logged in), and the exercise's two codes."""
        script = f"""
import json
from datetime import timedelta
from django.utils import timezone
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from exercises.models import Exercise
User = get_user_model()
# Learners who joined a while ago (a fresh account's submissions wait in the fair-share low lane).
joined = timezone.now() - timedelta(days=7)
users = User.objects.bulk_create([User(username=f"drill{{n}}", email=f"drill{{n}}@example.com", date_joined=joined)
                                  for n in range({self.learners_wanted})])
keys = []
for user in User.objects.filter(username__startswith="drill").order_by("id"):
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    keys.append(s.session_key)
version = Exercise.objects.get(slug={EXERCISE!r}).published_version
print(json.dumps({{"sessions": keys, "solution": version.solution, "starter": version.starter}}))
"""
        data = json.loads(self.manage("shell", "-c", script).strip().splitlines()[-1])
        self.sessions = data["sessions"]
        self.code = {"passed": data["solution"], "failed": data["starter"]}

    def sweep(self) -> int:
        """What celery beat does every minute in production (with shortened waits): re-relay stuck work."""
        script = (
            f"from datetime import timedelta\nfrom django.conf import settings\nfrom exercises import grading, sweeper\n"
            f"settings.EXERCISES_REDISPATCH_AFTER = {self.redispatch_seconds}\n"
            f"grading.UNDISPATCHED_GRACE = timedelta(seconds={SWEEP_GRACE_SECONDS})\n"
            "print(len(sweeper.sweep()))"
        )
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:  # e.g. the database is down right now: beat would simply try again
            self.sweep_errors.append(done.stderr[-2000:])
            return -1
        return int(done.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill()  # nothing left to finish gracefully: the drills are over
        for part in (self.worker, self.web, self.redis, self.pg):
            if part is not None:
                try:
                    part.close()
                except Exception:  # noqa: BLE001 - tear down the rest regardless
                    pass


# -- the drill ------------------------------------------------------------------------

# Words every "a part of the site is down" page must carry; a 500 page or a traceback never does.
OUTAGE_PAGE_MARKERS = ("site-header", "Nothing was lost")
READER_PAGES = ("/lessons/idempotency-keys/", "/exercises/")
NEVER_ON_A_PAGE = (
    "Traceback",
    "Server Error (500)",
    "OperationalError",
    "psycopg",
    "redis.exceptions",
)


@dataclass
class Answer:
    """One non-success answer a learner got from the site."""

    method: str
    status: int
    clear: bool  # a 503 in the site's layout that says what is wrong and that nothing was lost
    kept_code: bool  # a refused submission handed the learner's code and token back
    while_down: bool  # asked while the part was down (else: after it was back)
    excerpt: str


@dataclass
class DrillReport:
    fault: str
    submissions: int = 0
    rows: int = 0
    statuses: dict = field(default_factory=dict)
    wrong_verdicts: list = field(default_factory=list)
    unfinished: int = 0
    deliveries: dict = field(default_factory=dict)
    verdict_writes: dict = field(
        default_factory=dict
    )  # writes per submission -> how many submissions
    duplicates: int = 0
    answers: list[Answer] = field(default_factory=list)
    accepted_while_down: int = 0  # submissions the site accepted while the part was down
    slowest_post: float = 0.0  # seconds, the slowest answer to a submission
    pages_while_down: dict = field(
        default_factory=dict
    )  # a reader's page loads while it was down: status -> count
    sweeps: list[int] = field(default_factory=list)
    exits: dict = field(default_factory=dict)  # processes that died on their own and were restarted
    seconds: float = 0.0
    drained: bool = False

    @property
    def answer_counts(self) -> dict:
        return dict(collections.Counter(a.status for a in self.answers))

    @property
    def refused_after_recovery(self) -> int:
        """Refusals once the part was back (a stale connection, a process still starting)."""
        return sum(1 for a in self.answers if not a.while_down)

    def summary(self) -> str:
        unclear = sum(1 for a in self.answers if a.status and not a.clear)
        return (
            f"{self.fault}: {self.submissions} submissions, {self.rows} rows, statuses {self.statuses}, "
            f"deliveries {dict(sorted(self.deliveries.items()))}, verdict writes per submission "
            f"{dict(sorted(self.verdict_writes.items()))}, wrong verdicts {len(self.wrong_verdicts)}, "
            f"unfinished {self.unfinished}; refusals {self.answer_counts} ({unclear} unclear, "
            f"{self.refused_after_recovery} after the part was back), "
            f"{self.accepted_while_down} accepted while down, pages while down {self.pages_while_down}, "
            f"slowest answer to a submission {self.slowest_post:.1f} s; "
            f"sweeps re-relayed {self.sweeps}; restarted after exiting on their own {self.exits}; "
            f"{self.seconds:.0f} s"
        )


class Learner:
    """One signed-in learner submitting one piece of code through the form, and retrying as a person would."""

    def __init__(
        self,
        stack: Stack,
        session: str,
        code: str,
        report: DrillReport,
        lock: threading.Lock,
        down: threading.Event,
        number: int,
    ):
        self.stack, self.code, self.report, self.lock, self.down = stack, code, report, lock, down
        self.address = (
            f"127.1.{number // 250}.{number % 250 + 1}"  # each learner from its own address
        )
        self.csrf = (
            "drill" + os.urandom(16).hex()[:27]
        )  # a 32-character CSRF secret, as the cookie holds
        self.cookies = f"sessionid={session}; csrftoken={self.csrf}"
        self.token = ""

    def _note(self, method: str, status: int, body: str, asked_while_down: bool) -> None:
        clear = (
            status == 503
            and all(m in body for m in OUTAGE_PAGE_MARKERS)
            and not any(bad in body for bad in NEVER_ON_A_PAGE)
        )
        kept = False
        if method == "POST" and status == 503:
            kept = (
                html.escape(self.code, quote=False) in body or html.escape(self.code) in body
            ) and self.token in body
        with self.lock:
            self.report.answers.append(
                Answer(
                    method, status, clear, kept, asked_while_down, re.sub(r"\s+", " ", body)[:300]
                )
            )

    @property
    def page(self) -> str:
        return f"{self.stack.web.base}/exercises/{EXERCISE}/"

    def open(self, deadline: float) -> None:
        """Load the exercise page (its form carries the submission's idempotency token)."""
        page = self.page
        while time.monotonic() < deadline and not self.token:
            asked_while_down = self.down.is_set()
            status, body, _ = http_get(page, {"Cookie": self.cookies}, source=self.address)
            if status == 200:
                found = re.search(r'name="client_token" value="([^"]+)"', body)
                self.token = found.group(1) if found else ""
            else:
                self._note("GET", status, body, asked_while_down)
                time.sleep(0.3)

    def submit(self, deadline: float) -> bool:
        self.open(deadline)
        page = self.page
        form = urllib.parse.urlencode({"client_token": self.token, "code": self.code}).encode()
        headers = {
            "Cookie": self.cookies,
            "X-CSRFToken": self.csrf,
            "Referer": page,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        while time.monotonic() < deadline:
            sent, asked_while_down = time.monotonic(), self.down.is_set()
            status, body, _ = http_request(
                "POST", page + "submit/", form, headers, source=self.address
            )
            with self.lock:
                self.report.slowest_post = max(self.report.slowest_post, time.monotonic() - sent)
            if status == 302:
                if self.down.is_set():
                    with self.lock:
                        self.report.accepted_while_down += 1
                return True
            # Refused, reset or nothing listening: the learner presses "Try again" (the same token,
            # so a submission that was in fact saved is not made twice).
            self._note("POST", status, body, asked_while_down)
            time.sleep(0.3)
        return False


class FaultDrill:
    """A batch of submissions through the site, with one part broken in the middle of it."""

    def __init__(
        self,
        stack: Stack,
        fault: str,
        sessions: list[str],
        *,
        down_seconds: float = 4.0,
        parallel: int = 3,
        pace: float = 0.1,
        drain_seconds: float = 240,
        at_fraction: float = 0.3,
    ):
        self.stack, self.fault, self.sessions = stack, fault, sessions
        self.down_seconds, self.parallel, self.pace = down_seconds, parallel, pace
        self.drain_seconds, self.at_fraction = drain_seconds, at_fraction
        self.report = DrillReport(fault=fault, submissions=len(sessions))
        self.expected: dict[str, str] = {}
        self.down = threading.Event()  # set while the part is broken
        self.breaking = threading.Event()

    # Each fault breaks one part, keeps it broken while learners go on, then brings it back.
    def _break(self) -> None:
        stack = self.stack
        if self.fault == "redis":
            stack.redis.stop()
            self._down_for(self.down_seconds)
            stack.redis.start()
        elif self.fault == "postgres":
            stack.pg.stop("fast")
            self._down_for(self.down_seconds)
            stack.pg.start()
        elif self.fault == "web":
            stack.web.kill()
            self._down_for(self.down_seconds / 4)
            stack.web.start()
        elif self.fault == "worker":
            stack.worker.kill()
            self._down_for(0)
            stack.worker.start()
        else:
            raise ValueError(self.fault)

    def _supervise(self, stop: threading.Event) -> None:
        """What systemd or a Procfile runner does: start a process again when it exits on its own."""
        while not stop.wait(0.5):
            if self.breaking.is_set():
                continue
            for name, part in (("worker", self.stack.worker), ("web", self.stack.web)):
                if part.proc is not None and part.proc.poll() is not None:
                    self.report.exits[name] = self.report.exits.get(name, 0) + 1
                    try:
                        part.start()
                    except RuntimeError:
                        pass  # tried again on the next round

    def _down_for(self, seconds: float) -> None:
        """Keep the part down while learners go on, and a reader loads pages that need it.
        `down` stays set until the part has been started again (see run)."""
        self.down.set()
        reads: collections.Counter = collections.Counter()
        until = time.monotonic() + seconds
        try:
            while True:
                for path in READER_PAGES:
                    status, body, _ = http_get(self.stack.web.base + path, timeout=10)
                    clear = (
                        status == 503
                        and all(m in body for m in OUTAGE_PAGE_MARKERS)
                        and not any(bad in body for bad in NEVER_ON_A_PAGE)
                    )
                    reads[f"{status}{' clear' if clear else ''}"] += 1
                if time.monotonic() >= until:
                    break
                time.sleep(0.2)
        finally:
            self.report.pages_while_down = dict(reads)

    def _in_flight(self, ids: set[str]) -> int:
        try:
            return self.stack.pg.rows(
                "SELECT count(*) FROM exercises_submission WHERE status IN ('queued','running') "
                "AND client_token = ANY(%s)",
                list(ids),
            )[0][0]
        except Exception:  # noqa: BLE001 - the database may be the part that is down
            return -1

    def _running(self, tokens: list[str]) -> int:
        try:
            return self.stack.pg.rows(
                "SELECT count(*) FROM exercises_submission WHERE status = 'running' "
                "AND client_token = ANY(%s)",
                tokens,
            )[0][0]
        except Exception:  # noqa: BLE001
            return 0

    def run(self) -> DrillReport:
        began = time.monotonic()
        lock = threading.Lock()
        learners = []
        for n, session in enumerate(self.sessions):
            outcome = "passed" if n % 2 == 0 else "failed"
            learners.append(
                (
                    Learner(
                        self.stack,
                        session,
                        self.stack.code[outcome],
                        self.report,
                        lock,
                        self.down,
                        n,
                    ),
                    outcome,
                )
            )
        queue = list(learners)
        stop_supervising = threading.Event()
        supervisor = threading.Thread(target=self._supervise, args=(stop_supervising,), daemon=True)
        supervisor.start()
        posted = []
        deadline = time.monotonic() + self.drain_seconds

        def submitter():
            while True:
                with lock:
                    if not queue:
                        return
                    learner, outcome = queue.pop(0)
                learner.submit(deadline)
                with lock:
                    posted.append((learner, outcome))
                time.sleep(self.pace)

        # Every learner has the exercise open (and its form's token) before the batch starts.
        openers = [
            threading.Thread(
                target=lambda part=part: [learner.open(deadline) for learner, _ in part],
                daemon=True,
            )
            for part in (learners[i :: self.parallel] for i in range(self.parallel))
        ]
        for thread in openers:
            thread.start()
        for thread in openers:
            thread.join()
        threads = [threading.Thread(target=submitter, daemon=True) for _ in range(self.parallel)]
        for thread in threads:
            thread.start()
        # Break the part once a share of the batch is in, and (for the worker) while something is being graded.
        threshold = max(1, int(len(learners) * self.at_fraction))
        wait_for(lambda: len(posted) >= threshold, self.drain_seconds, 0.05)
        if self.fault == "worker":
            wait_for(
                lambda: (
                    self._running([learner.token for learner, _ in learners if learner.token]) > 0
                ),
                30,
                0.05,
            )
        self.breaking.set()
        try:
            self._break()
        finally:
            self.down.clear()  # only now: the part is back up
            self.breaking.clear()
        for thread in threads:
            thread.join(max(1.0, deadline - time.monotonic()))
        tokens = {learner.token for learner, _ in learners if learner.token}
        self.expected = {learner.token: outcome for learner, outcome in learners}
        last_sweep = time.monotonic()
        while time.monotonic() < deadline:
            if self._in_flight(tokens) == 0:
                self.report.drained = True
                break
            if time.monotonic() - last_sweep >= 5:
                self.report.sweeps.append(self.stack.sweep())
                last_sweep = time.monotonic()
            time.sleep(0.5)
        self.report.seconds = time.monotonic() - began
        stop_supervising.set()
        supervisor.join()
        self._count(tokens)
        return self.report

    def _count(self, tokens: set[str]) -> None:
        report = self.report
        rows = self.stack.pg.rows(
            "SELECT id::text, client_token, status, deliveries, finished_at FROM exercises_submission "
            "WHERE client_token = ANY(%s)",
            list(tokens),
        )
        report.rows = len(rows)
        report.duplicates = len(rows) - len({row[1] for row in rows})
        report.statuses = dict(collections.Counter(row[2] for row in rows))
        report.deliveries = dict(collections.Counter(row[3] for row in rows))
        report.unfinished = sum(1 for row in rows if row[4] is None)
        report.wrong_verdicts = [
            (row[0], row[2], self.expected.get(row[1]))
            for row in rows
            if row[2] != self.expected.get(row[1])
        ]
        written = verdict_writes(self.stack.worker.log())
        report.verdict_writes = dict(collections.Counter(written.get(row[0], 0) for row in rows))


_VERDICT_LINE = re.compile(
    r"submission ([0-9a-f-]{36}): (?:passed|failed|timeout|error)(?! \(already graded\))"
)


def verdict_writes(worker_log: str) -> collections.Counter:
    """Verdicts each submission received, from the worker's own log lines (one per guarded write that won)."""
    return collections.Counter(m.group(1) for m in _VERDICT_LINE.finditer(worker_log))
