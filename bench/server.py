"""A throwaway production-like site for benchmarks: its own SQLite database
(or DATABASE_URL), content loaded, a learner account, gunicorn on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "bench@example.com", "bench-password-not-secret-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_env(workdir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG",)}
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def cpu_seconds(base: str) -> float | None:
    """CPU time (user and system) used so far by the gunicorn serving `base`, master and workers,
    read from /proc; None where there is no /proc."""
    needle = f"127.0.0.1:{base.rsplit(':', 1)[1]}".encode()
    total, found = 0.0, False
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (
                b"gunicorn" not in (cmdline := (proc / "cmdline").read_bytes())
                or needle not in cmdline
            ):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        found = True
    return total if found else None


@contextmanager
def gunicorn(workers: int = 2, **extra_env: str):
    """Yield (base_url, env) for a fresh site served by gunicorn."""
    with tempfile.TemporaryDirectory(prefix="saga-bench-") as tmp:
        workdir = Path(tmp)
        env = site_env(workdir, **extra_env)
        print(
            "  preparing the site (migrate, load content, collectstatic) ...",
            file=sys.stderr,
            flush=True,
        )
        manage(env, "migrate", "--noinput")
        manage(env, "load_content", "--verbosity", "0")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as g;"
            f"u=g().objects.filter(email='{EMAIL}').first() or g().objects.create_user('bench','{EMAIL}','{PASSWORD}')",
        )
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "courseapp.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/health/live/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            yield base, env
        finally:
            proc.terminate()
            proc.wait(timeout=20)
