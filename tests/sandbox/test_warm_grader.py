"""The warm grader server behind sandbox.isolated.grade_isolated: every grading still runs in a
fresh process of its own under the memory and CPU caps, forked from one warm server per calling
process; a dying grading process is a report, a dying server is replaced, and nothing outlives the
process that started it. Trusted sources (jailed=False) run inside the grading process, so they
can report and misbehave from there without needing the jail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sandbox import isolated, scenarios
from sandbox.isolated import grade_isolated

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = scenarios.get("idempotent_consumer").reference_source
# Prints which process loaded it, and that process's parent, every time it is loaded.
WHO = "import os as _os\nprint('grading-process', _os.getpid(), _os.getppid())\n"


def _grade(source: str = REFERENCE, **options) -> dict:
    options.setdefault("random_schedules", 3)
    return dict(grade_isolated("idempotent_consumer", source, jailed=False, **options))


def _who(report: dict) -> tuple[int, int]:
    line = next(x for x in report["output"].splitlines() if x.startswith("grading-process"))
    _, pid, parent = line.split()
    return int(pid), int(parent)


def _server_pids() -> list[int]:
    return [server.proc.pid for server in isolated._servers.idle]


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie of ours is gone too, once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def _fresh_servers(monkeypatch):
    monkeypatch.setenv(isolated.WARM_ENV, "1")
    isolated.stop_servers()
    yield
    isolated.stop_servers()


def test_each_grading_is_a_fresh_process_forked_from_one_warm_server():
    first = _grade(WHO + REFERENCE)
    second = _grade(WHO + REFERENCE)
    assert first["status"] == second["status"] == "passed", first["message"]
    (server,) = _server_pids()
    first_pid, first_parent = _who(first)
    second_pid, second_parent = _who(second)
    assert first_parent == second_parent == server
    assert len({first_pid, second_pid, server, os.getpid()}) == 4


def test_every_forked_grading_runs_under_the_memory_and_cpu_caps():
    report = _grade()
    assert report["grader_memory_mb"] == isolated.MEMORY_MB
    assert report["grader_cpu_seconds"] == isolated.CPU_SECONDS
    report = _grade(memory_mb=300, cpu_seconds=7)
    assert (report["grader_memory_mb"], report["grader_cpu_seconds"]) == (300, 7)


def test_a_grading_that_runs_out_of_memory_is_too_much_work_and_the_server_lives_on():
    _grade()
    (server,) = _server_pids()
    report = _grade("hog = bytearray(2 * 1024 ** 3)\n" + REFERENCE)
    assert report["status"] == "timeout" and report["limit"] == "work", report["message"]
    assert _server_pids() == [server]
    assert _grade()["status"] == "passed"


def test_a_grading_that_burns_its_cpu_is_too_much_work():
    report = _grade("while True:\n    pass\n" + REFERENCE, cpu_seconds=1)
    assert report["status"] == "timeout" and report["limit"] == "work"
    assert "s of the grader's CPU time" in report["message"]


def test_a_grading_process_that_dies_is_an_error_report_not_a_dead_server():
    _grade()
    (server,) = _server_pids()
    report = _grade("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n" + REFERENCE)
    assert report["status"] == "error"
    assert "failed unexpectedly" in report["message"]
    assert f"exit -{signal.SIGTERM}" in report["message"]
    assert _server_pids() == [server]


def test_a_server_that_died_while_idle_is_replaced():
    _grade()
    (server,) = _server_pids()
    os.kill(server, signal.SIGKILL)
    assert _gone(server)
    assert _grade()["status"] == "passed"
    assert _server_pids() and _server_pids() != [server]


def test_a_server_that_dies_mid_grading_is_replaced_and_the_grading_run_again(tmp_path):
    marker = tmp_path / "killed-once"
    # The first time only: kill the server from inside the grading, then wait to be killed with it.
    source = textwrap.dedent(f"""
        import os, signal, time
        from pathlib import Path
        if not Path({str(marker)!r}).exists():
            Path({str(marker)!r}).write_text(str(os.getppid()))
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(30)
    """)
    report = _grade(WHO + source + REFERENCE)
    assert report["status"] == "passed", report["message"]
    dead_server = int(marker.read_text())
    assert _who(report)[1] != dead_server
    assert _gone(dead_server)


def test_running_out_of_wall_time_stops_the_grading_process_and_is_retried_once(tmp_path):
    pids = tmp_path / "pids"
    source = f"import os, time\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
    report = _grade(source + "time.sleep(60)\n" + REFERENCE, wall_seconds=1)
    assert report["status"] == "timeout" and report["limit"] == "timeout"
    assert report.get("retried") is True
    stopped = [int(pid) for pid in pids.read_text().split()]
    assert len(stopped) == 2 and all(_gone(pid) for pid in stopped)
    assert _grade()["status"] == "passed"  # the server stopped them and went on


# Loading a trusted source runs it again for every request: sleep on the first load only.
SLEEP_ONCE = "import sys, time\nif not hasattr(sys, 'slept'):\n    sys.slept = time.sleep(1)\n"


def test_threads_grading_at_once_each_borrow_a_server_of_their_own():
    reports: list[dict] = []

    def grade() -> None:
        reports.append(_grade(WHO + SLEEP_ONCE + REFERENCE))

    threads = [threading.Thread(target=grade) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["status"] for r in reports] == ["passed", "passed"]
    assert len({_who(r)[1] for r in reports}) == 2
    assert len(_server_pids()) == 2


def test_a_forked_child_starts_its_own_server_and_leaves_its_parents_alone():
    _grade()
    (server,) = _server_pids()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # as a Celery prefork pool process would be
        code = 1
        try:
            inherited = _server_pids()
            report = _grade(WHO + REFERENCE)
            own = _who(report)[1]
            isolated.stop_servers()
            os.write(write, json.dumps([inherited, report["status"], own]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        inherited, status, child_server = json.loads(pipe.read())
    assert os.waitpid(pid, 0)[1] == 0
    assert inherited == [] and status == "passed"
    assert child_server != server
    assert _server_pids() == [server]
    assert _grade()["status"] == "passed"


OWNER = """
import json, os, sys
from sandbox import isolated, scenarios
from sandbox.isolated import grade_isolated
reference = scenarios.get("idempotent_consumer").reference_source
grade_isolated("idempotent_consumer", reference, jailed=False, random_schedules=3)
print(json.dumps(isolated._servers.idle[0].proc.pid), flush=True)
if sys.argv[1] == "busy":  # killed while its next grading runs
    grade_isolated("idempotent_consumer", "while True: pass\\n", jailed=False)
"""


@pytest.mark.parametrize("when", ["exit", "busy"])
def test_no_server_or_grading_process_outlives_its_owner(when):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, when],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), isolated.WARM_ENV: "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    server = json.loads(owner.stdout.readline())
    if when == "busy":
        time.sleep(1)
        grading = [
            int(pid) for pid in Path(f"/proc/{server}/task/{server}/children").read_text().split()
        ]
        assert grading, "the second grading should be running"
        owner.kill()
    assert owner.wait(30) in (0, -signal.SIGKILL)
    assert _gone(server)
    if when == "busy":
        assert all(_gone(pid) for pid in grading)


def test_without_the_warm_server_each_grading_starts_a_fresh_interpreter(monkeypatch):
    monkeypatch.setenv(isolated.WARM_ENV, "0")
    report = _grade(WHO + REFERENCE)
    assert report["status"] == "passed"
    assert _server_pids() == []
    assert _who(report)[1] == os.getpid()


def test_a_server_started_ahead_is_the_one_the_first_grading_uses():
    isolated.start_server()
    isolated.start_server()  # one idle server is enough
    (server,) = _server_pids()
    assert _who(_grade(WHO + REFERENCE))[1] == server


def test_a_gradings_peak_memory_shows_in_the_callers_children_once_its_servers_stop():
    import resource

    big = "import sys\nif not hasattr(sys, 'big'):\n    sys.big = bytearray(100 * 1024 * 1024)\n"
    assert _grade(big + REFERENCE)["status"] == "passed"
    isolated.stop_servers()  # the server reaped its grading processes; now it is reaped too
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert 100 < peak_mib < isolated.MEMORY_MB
