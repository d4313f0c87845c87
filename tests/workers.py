"""Real Celery worker processes for tests, started against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_ copy)."""
    s = connection.settings_dict
    auth = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(s['NAME'], safe='')}"


def wait_for(condition, seconds: float, every: float = 0.3) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


class Worker:
    """One `celery worker` process group; its log accumulates across restarts."""

    def __init__(self, args: list[str], env: dict):
        self.args, self.env = args, env
        self.log_path = Path(tempfile.mkstemp(prefix="celery-test-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self, ready_within: float = 60) -> None:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "courseapp",
                    "worker",
                    *self.args,
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"test-{uuid.uuid4().hex[:8]}@%h",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        marker = self.log().count(" ready.")
        if not wait_for(
            lambda: self.log().count(" ready.") > marker or self.proc.poll() is not None,
            ready_within,
        ):
            raise RuntimeError("the worker did not become ready:\n" + self.log()[-3000:])
        if self.proc.poll() is not None:
            raise RuntimeError("the worker exited at start:\n" + self.log()[-3000:])

    def kill(self) -> None:
        """SIGKILL the whole group: the main process and every pool child, mid-task."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


@contextmanager
def celery_worker(*args: str, **env_extra: str):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SANDBOX_ALLOW_UNJAILED": "0",
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    worker = Worker(list(args), env)
    worker.start()
    try:
        yield worker
    finally:
        worker.close()
