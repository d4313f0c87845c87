"""Fixtures for the jail tests (no Django needed)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sandbox.jail import JailRunner, jail_available
from sandbox.runner import Limits

HERE = Path(__file__).resolve().parent
FAKE_GUEST = HERE / "fake_guest"
REPO_ROOT = HERE.parent.parent

# Small limits keep the hostile suite fast.
SMALL = Limits(
    cpu_seconds=2,
    wall_seconds=3.0,
    memory_mb=128,
    processes=16,
    output_bytes=64 * 1024,
    open_files=32,
    file_size_mb=1,
)


def require_jail() -> None:
    """Skip without bubblewrap, but FAIL where SAGA_REQUIRE_SERVICES=1 (CI)."""
    ok, reason = jail_available()
    if ok:
        return
    if os.environ.get("SAGA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"the jail is required here but unavailable: {reason}")
    pytest.skip(f"jail unavailable: {reason}")


@pytest.fixture
def jail():
    require_jail()


def run(source, limits: Limits = SMALL, **kwargs) -> JailRunner:
    kwargs.setdefault("guest_dir", FAKE_GUEST)
    return JailRunner(source, limits, **kwargs)


def processes_with(marker: str) -> list[int]:
    """PIDs (host view) whose command line contains ``marker``: no psutil."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def assert_no_processes(marker: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = processes_with(marker)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind for {marker}: {left}")
        time.sleep(0.05)


def assert_healthy(**kwargs) -> None:
    """A fresh runner still works normally."""
    with run("def add(a, b):\n    return a + b\n", **kwargs) as r:
        assert r.request({"fn": "add", "args": [2, 3]}) == {"value": 5}
        tag = r.tag
    assert_no_processes(tag)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the site-wide autouse fixture of the same name (tests/conftest.py),
    which needs Django: the jail tests do not, and run with ``-p no:django``."""
    yield
