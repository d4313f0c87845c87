"""Hostile submissions.  Each one, as learner code, must end in a RunnerError
or an error response (never a normal-looking success it made up), write
nothing on the host outside the jail's tmpfs, leave no process behind, and
the next runner must work normally.

Needs real bubblewrap: skipped without it, but FAILS when
SAGA_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import socket
import textwrap
import time

import pytest

import sandbox
import sandbox.jail as jail_mod
from sandbox.jail import MAX_SOURCE_BYTES, JailRunner
from sandbox.runner import GUEST_DIR, Limits, RunnerError

from .conftest import (
    FAKE_GUEST,
    REPO_ROOT,
    SMALL,
    assert_healthy,
    assert_no_processes,
    processes_with,
    require_jail,
    run,
)


@pytest.fixture(autouse=True)
def _jail_required(monkeypatch):
    """Every test here: needs the jail; afterwards nothing it started may be
    alive (whatever the outcome), and a fresh runner must work normally."""
    require_jail()
    prefix = "saga-jail-hostile-%s-" % os.urandom(4).hex()
    monkeypatch.setattr(jail_mod, "TAG_PREFIX", prefix)
    yield
    assert_no_processes(prefix)
    assert_healthy()


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def expect_error(source, kinds, limits=SMALL, call=None, **kw):
    """Run ``source`` (and optionally one call); the run must end in a
    RunnerError of one of ``kinds``.  Returns (error, elapsed, tag)."""
    t0 = time.monotonic()
    tag = None
    try:
        with run(source, limits, **kw) as r:
            tag = r.tag
            if call is not None:
                r.request(call)
            pytest.fail("hostile submission ended without an error")
    except RunnerError as exc:
        assert exc.kind in kinds, (exc.kind, exc.message)
        err = exc
    elapsed = time.monotonic() - t0
    if tag is not None:
        assert_no_processes(tag)
    return err, elapsed, tag


# -- runaway resource use ----------------------------------------------------


def test_infinite_loop_at_import_hits_cpu_limit():
    # A generous wall clock, so that CPU time runs out first even on a busy machine.
    err, _, _ = expect_error(
        "while True:\n    pass\n", {"cpu"}, limits=Limits(cpu_seconds=1, wall_seconds=10)
    )
    assert err.message == "your code used more than 1 s of CPU time"


def test_infinite_loop_in_call():
    err, _, _ = expect_error(
        "def f():\n    while True:\n        pass\n", {"cpu", "timeout"}, call={"fn": "f"}
    )


def test_sleeping_call_hits_wall_clock():
    err, _, _ = expect_error(
        "import time\ndef f():\n    time.sleep(60)\n", {"timeout"}, call={"fn": "f"}
    )
    assert err.message == "your code ran past 3 s of wall time"


def test_very_slow_import_hits_wall_clock():
    err, _, _ = expect_error("import time\ntime.sleep(60)\n", {"timeout"})
    assert "3 s of wall time" in err.message


def test_catching_sigxcpu_does_not_help():
    code = src("""
        import signal
        signal.signal(signal.SIGXCPU, lambda *a: None)
        while True:
            pass
    """)
    err, _, _ = expect_error(code, {"cpu", "timeout"}, limits=Limits(cpu_seconds=1, wall_seconds=5))


def test_fork_bomb_is_contained():
    code = src("""
        import os
        def f():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """)
    expect_error(code, {"cpu", "timeout", "crashed", "protocol"}, call={"fn": "f"})


def test_fork_bomb_hits_process_limit():
    code = src("""
        import os, time
        def f():
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    n += 1
            except OSError as exc:
                return {"forked": n, "errno": exc.errno}
    """)
    with run(code) as r:
        out = r.request({"fn": "f"})["value"]
        tag = r.tag
        assert out["forked"] < SMALL.processes
        assert out["errno"] == 11  # EAGAIN: RLIMIT_NPROC enforced (we run as root!)
    assert_no_processes(tag)


def test_memory_bomb_at_import():
    code = "hog = []\nwhile True:\n    hog.append(bytearray(10 * 1024 * 1024))\n"
    err, _, _ = expect_error(code, {"memory"})
    assert err.message.startswith("your code used more than 128 MiB of memory")


def test_memory_bomb_in_call_is_an_error_response():
    code = src("""
        def f():
            hog = []
            while True:
                hog.append(bytearray(10 * 1024 * 1024))
    """)
    with run(code) as r:
        out = r.request({"fn": "f"})
        assert out == {"error": {"type": "MemoryError", "message": ""}}


def test_memory_bomb_with_tmpfs_is_capped():
    code = src("""
        def f():
            n = 0
            try:
                for i in range(1000):
                    with open(f"/tmp/fill{i}", "wb") as fh:
                        fh.write(b"x" * (1024 * 1024 - 1))
                    n += 1
            except OSError as exc:
                return {"files": n, "error": type(exc).__name__}
    """)
    with run(code) as r:
        out = r.request({"fn": "f"})["value"]
    assert out["files"] <= 16 and out["error"] == "OSError"


def test_output_flood():
    err, _, _ = expect_error("while True:\n    print('spam' * 1000)\n", {"output"})
    assert "printed more than" in err.message
    assert err.output[1] > 0 and len(err.output[0].encode()) == SMALL.output_bytes


def test_output_flood_to_stderr_from_a_child():
    code = src("""
        import os, sys
        if os.fork() == 0:
            while True:
                os.write(2, b"e" * 65536)
        import time
        time.sleep(60)
    """)
    expect_error(code, {"output", "timeout"})


def test_deep_recursion_in_call_is_an_error_response():
    with run("def f(n=0):\n    return f(n + 1)\n") as r:
        assert r.request({"fn": "f"})["error"]["type"] == "RecursionError"


def test_unbounded_python_recursion_is_stopped():
    code = src("""
        import sys
        sys.setrecursionlimit(10**8)
        def f(n=0):
            return f(n + 1)
        f()
    """)
    # Python 3.11 frames live on the heap: this ends in the memory limit
    # (surfacing as MemoryError or SystemError), or CPU/wall on a slow machine.
    expect_error(code, {"crashed", "memory", "cpu", "timeout"})


def test_recursion_past_the_c_stack_crashes_cleanly():
    code = src("""
        import sys, json
        sys.setrecursionlimit(10**8)
        x = []
        for _ in range(10**6):
            x = [x]
        json.dumps(x)
    """)
    err, _, _ = expect_error(code, {"crashed"})
    assert "signal 11" in err.message


def test_segfault_via_ctypes():
    err, _, _ = expect_error("import ctypes\nctypes.string_at(0)\n", {"crashed"})
    assert err.message == "your process died (signal 11, segmentation fault)"


def test_segfault_inside_a_call():
    code = "import ctypes\ndef f():\n    return ctypes.string_at(0)\n"
    err, _, _ = expect_error(code, {"crashed"}, call={"fn": "f"})
    assert "segmentation fault" in err.message


# -- reading what it must not see ---------------------------------------------


def test_cannot_read_host_secrets_files():
    targets = [
        "/etc/shadow",
        "/etc/passwd",
        str(REPO_ROOT / "courseapp" / "settings.py"),
        str(REPO_ROOT / "db.sqlite3"),
        str(REPO_ROOT / ".git" / "config"),
        str(REPO_ROOT / ".env"),
        "/work/shared/DESIGN.md",
        "/root/.bash_history",
        str(REPO_ROOT / "sandbox" / "jail.py"),
        "/proc/1/environ",
        "/proc/1/root/etc/shadow",
    ]
    code = src("""
        def probe(paths):
            out = {}
            for p in paths:
                try:
                    with open(p, "rb") as fh:
                        out[p] = "READ %d bytes" % len(fh.read())
                except OSError as exc:
                    out[p] = type(exc).__name__
            return out
    """)
    with run(code) as r:
        out = r.request({"fn": "probe", "args": [targets]})["value"]
    for path, result in out.items():
        assert result in ("FileNotFoundError", "PermissionError"), (path, result)


def test_project_directory_is_not_in_the_jail():
    code = "import os\ndef f(p):\n    return [os.path.exists(p), os.path.exists('/work')]\n"
    with run(code) as r:
        assert r.request({"fn": "f", "args": [str(REPO_ROOT)]}) == {"value": [False, False]}


def test_the_world_prelude_cannot_be_imported_by_learner_code():
    # Scenario worlds import their idempotency-key helpers from sandbox.scenarios.world_prelude in
    # the trusted process; learner code, run with the real guest directory, finds neither name.
    code = src("""
        import importlib
        def probe(names):
            out = {}
            for name in names:
                try:
                    importlib.import_module(name)
                    out[name] = "imported"
                except ImportError as exc:
                    out[name] = type(exc).__name__
            return out
    """)
    names = ["sandbox.scenarios.world_prelude", "world_prelude", "sandbox"]
    with run(code, guest_dir=GUEST_DIR) as r:
        out = r.request({"op": "pure", "fn": "probe", "args": [names]})
    assert out["ok"], out
    assert out["value"] == dict.fromkeys(names, "ModuleNotFoundError")


def test_cannot_see_host_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "host-secret-key-123")
    monkeypatch.setenv("DATABASE_URL", "postgres://saga:hunter2@db/saga")
    code = src("""
        import os
        def env():
            blobs = [repr(dict(os.environ))]
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        blobs.append(open(f"/proc/{pid}/environ", "rb").read().decode("latin-1"))
                    except OSError:
                        pass
            return "\\n".join(blobs)
    """)
    with run(code) as r:
        blob = r.request({"fn": "env"})["value"]
    assert "host-secret-key-123" not in blob and "hunter2" not in blob
    assert "SECRET_KEY" not in blob and "DATABASE_URL" not in blob


def test_no_network():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    code = src("""
        import socket
        def connect(ports):
            out = {}
            for host, port in ports:
                s = socket.socket()
                s.settimeout(1)
                try:
                    s.connect((host, port))
                    out[f"{host}:{port}"] = "CONNECTED"
                except OSError as exc:
                    out[f"{host}:{port}"] = type(exc).__name__
                finally:
                    s.close()
            try:
                socket.getaddrinfo("example.com", 80)
                out["dns"] = "RESOLVED"
            except OSError as exc:
                out["dns"] = type(exc).__name__
            return out
    """)
    try:
        with run(code) as r:
            targets = [["127.0.0.1", p] for p in (5432, 6379, 8000, port)] + [["10.0.0.1", 80]]
            out = r.request({"fn": "connect", "args": [targets]})["value"]
    finally:
        listener.close()
    assert "CONNECTED" not in out.values() and out["dns"] != "RESOLVED", out


# -- writing where it must not -------------------------------------------------


def test_writes_outside_tmpfs_fail_and_host_is_untouched(tmp_path):
    marker = "saga-pwned-%d" % os.getpid()
    from sandbox.jail import _interpreter

    prefix = _interpreter()[1]
    dirs = [
        "/",
        "/tmp",
        "/usr/lib",
        "/etc",
        "/root",
        "/guest",
        "/jail",
        prefix,
        "/dev/shm",
        "/proc",
        str(REPO_ROOT),
        str(FAKE_GUEST),
        str(tmp_path),
        "/var/tmp",
    ]
    code = src("""
        import os
        def write(dirs, marker):
            out = {}
            for d in dirs:
                p = os.path.join(d, marker)
                try:
                    with open(p, "w") as fh:
                        fh.write("pwned")
                    out[d] = "WROTE"
                except OSError as exc:
                    out[d] = type(exc).__name__
            return out
    """)
    with run(code) as r:
        out = r.request({"fn": "write", "args": [dirs, marker]})["value"]
    assert out.pop("/tmp") == "WROTE"  # the private tmpfs
    assert "WROTE" not in out.values(), out
    for d in dirs + ["/tmp"]:
        assert not os.path.exists(os.path.join(d, marker)), d


# -- processes that try to outlive or take down the run ------------------------


def test_daemon_does_not_outlive_the_run():
    code = src("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for fd in range(3):
                    os.close(fd)
                while True:
                    time.sleep(0.1)
            os._exit(0)
        os.wait()
        def ok():
            return "daemon started"
    """)
    with run(code) as r:
        tag = r.tag
        assert r.request({"fn": "ok"}) == {"value": "daemon started"}
        assert len(processes_with(tag)) >= 3  # bwrap, its init, python, the daemon
    assert_no_processes(tag)


def test_killing_the_parent():
    code = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    err, _, _ = expect_error(code, {"crashed"})
    assert "PermissionError" in err.message or "signal" in err.message


def test_kill_everything():
    # kill(-1) spares the caller, so do it from a child: it reaches every
    # process of the jail's uid (the bootstrap included), and nothing else.
    import subprocess

    bystander = subprocess.Popen(["sleep", "30"])
    try:
        code = src("""
            import os, signal, time
            if os.fork() == 0:
                os.kill(-1, signal.SIGKILL)
                os._exit(0)
            time.sleep(5)
        """)
        err, _, _ = expect_error(code, {"crashed"})
        assert "signal 9" in err.message
        assert bystander.poll() is None  # host processes untouched
    finally:
        bystander.kill()
        bystander.wait()


def test_kill_everything_in_a_call():
    code = src("""
        import os, signal, time
        def f():
            if os.fork() == 0:
                os.kill(-1, signal.SIGKILL)
                os._exit(0)
            time.sleep(5)
            return "survived"
    """)
    err, _, _ = expect_error(code, {"crashed"}, call={"fn": "f"})
    assert "signal 9" in err.message


# -- lying to the grader -----------------------------------------------------

FIND_CHANNEL = src("""
    import os, stat, json
    def frame(obj):
        data = json.dumps(obj).encode()
        return len(data).to_bytes(4, "big") + data
    def channel_fds():
        fds = []
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                    fds.append(fd)
            except OSError:
                pass
        return fds
    def spray(payload):
        for fd in channel_fds():
            try:
                os.write(fd, payload)
            except OSError:
                pass
""")


def test_printing_a_fake_result_is_just_output():
    fake = '{"type": "response", "id": 1, "response": {"value": "PASSED"}}'
    code = src(f"""
        import os, sys
        print({fake!r})
        os.write(1, b"\\x00\\x00\\x00\\x10PASSED PASSED!!!")
        def f():
            print("ALL TESTS PASSED")
            sys.stdout.flush()
            os.write(2, b"verdict: passed\\n")
            return "honest"
    """)
    with run(code) as r:
        assert r.request({"fn": "f"}) == {"value": "honest"}
        kept, _ = r.output()
    assert "PASSED" in kept  # it is only ever shown as output


def test_fake_response_frame_on_the_channel():
    code = FIND_CHANNEL + src("""
        spray(frame({"type": "ready"}))
        def f():
            spray(frame({"type": "response", "id": 1, "response": {"value": "PASSED"}}))
            return "honest"
    """)
    expect_error(code, {"protocol"}, call={"fn": "f"})


def test_fake_response_frame_during_a_call():
    code = FIND_CHANNEL + src("""
        def f():
            for guess in range(1, 50):
                spray(frame({"type": "response", "id": guess, "response": {"value": "PASSED"}}))
            return "honest"
    """)
    expect_error(code, {"protocol"}, call={"fn": "f"})


def test_a_forged_frame_with_a_stolen_id_never_answers_another_call():
    # Reading the request id out of the bootstrap's frame makes a forged answer at most as good as
    # returning that value honestly. Each call runs in its own process with its own pipes, so
    # whatever the forger leaves behind (its genuine answer, more forgeries) dies with the call:
    # it can desynchronise nothing, and the channel may or may not notice the surplus.
    code = FIND_CHANNEL + src("""
        import sys
        def f():
            frm = sys._getframe()
            while frm is not None and "rid" not in frm.f_locals:
                frm = frm.f_back
            rid = frm.f_locals["rid"]
            spray(frame({"type": "response", "id": rid, "response": {"value": f"FORGED {rid}"}}))
            return f"honest {rid}"
    """)
    rids = []
    with run(code) as r:
        tag = r.tag
        try:
            for _ in range(3):
                value = r.request({"fn": "f"})["value"]
                kind, rid = value.split()
                assert kind in ("FORGED", "honest"), value
                rids.append(int(rid))
        except RunnerError as err:
            assert err.kind == "protocol"
    # Every answer carries the (random) id of the call it answers: an answer left over from one
    # call and taken as another's would repeat an id.
    assert len(set(rids)) == len(rids), rids
    assert_no_processes(tag)


def test_garbage_on_the_channel():
    code = FIND_CHANNEL + src("""
        def f():
            spray(b"\\xff" * 4096)
            return "ok"
    """)
    err, _, _ = expect_error(code, {"protocol"}, call={"fn": "f"})


def test_huge_length_prefix_on_the_channel():
    code = FIND_CHANNEL + src("""
        spray(b"\\x7f\\xff\\xff\\xff")
        def f():
            return "ok"
    """)
    err, _, _ = expect_error(code, {"protocol"}, call={"fn": "f"})
    assert "limit is 1 MiB" in err.message


def test_closing_the_channel():
    code = FIND_CHANNEL + src("""
        import time
        def f():
            for fd in channel_fds():
                os.close(fd)
            time.sleep(30)
    """)
    expect_error(code, {"crashed", "timeout"}, call={"fn": "f"})


def test_monkeypatching_dispatch_has_no_effect():
    code = src("""
        import sys
        import dispatch
        dispatch.handle = lambda ns, req, cb: {"value": "PASSED"}
        sys.modules["dispatch"].handle = dispatch.handle
        def f():
            return "honest"
    """)
    with run(code) as r:
        assert r.request({"fn": "f"}) == {"value": "honest"}


# -- exceptions that are not Exceptions ----------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        "SystemExit(0)",
        "SystemExit('bye')",
        "KeyboardInterrupt()",
        "BaseException('base')",
        "GeneratorExit()",
    ],
)
def test_base_exceptions_at_import(exc):
    err, _, _ = expect_error(f"raise {exc}\n", {"crashed"})
    assert exc.split("(")[0] in err.message
    assert "while your file was being loaded" in err.message


@pytest.mark.parametrize("exc", ["SystemExit(0)", "KeyboardInterrupt()", "BaseException('base')"])
def test_base_exceptions_in_a_call_keep_the_runner_usable(exc):
    code = f"def f():\n    raise {exc}\ndef ok():\n    return 'fine'\n"
    with run(code) as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "f"})
        assert err.value.kind == "crashed"
        assert exc.split("(")[0] in err.value.message
        assert r.request({"fn": "ok"}) == {"value": "fine"}


def test_exit_at_import():
    err, _, _ = expect_error("import os\nos._exit(0)\n", {"crashed"})
    assert "exit code 0" in err.message


# -- what is not even started --------------------------------------------------


def test_ten_megabyte_source_is_rejected_before_starting(monkeypatch):
    big = "x = 1\n" * (10 * 1024 * 1024 // 6)

    def must_not_start(*args, **kwargs):
        raise AssertionError("a process was started for an oversized source")

    with monkeypatch.context() as m:
        m.setattr(JailRunner, "_start", must_not_start)
        with pytest.raises(RunnerError) as err:
            JailRunner(big, SMALL, guest_dir=FAKE_GUEST)
    assert err.value.kind == "syntax"
    assert "limit is 256 KiB" in err.value.message


def test_non_utf8_source():
    with pytest.raises(RunnerError) as err:
        JailRunner(b"# caf\xe9\nx = 1\n", SMALL, guest_dir=FAKE_GUEST)
    assert err.value.kind == "syntax" and "UTF-8" in err.value.message


def test_syntax_error():
    with pytest.raises(RunnerError) as err:
        run("def f()\n    return 1\n")
    assert err.value.kind == "syntax"
    assert err.value.message.startswith("SyntaxError on line 1:")


def test_null_bytes_in_source():
    with pytest.raises(RunnerError) as err:
        run("x = 1\0\n")
    assert err.value.kind == "syntax"


def test_source_just_under_the_cap_runs():
    body = "def f():\n    return 1\n"
    pad = "#" * (MAX_SOURCE_BYTES - len(body) - 2) + "\n"
    with run(pad + body) as r:
        assert r.request({"fn": "f"}) == {"value": 1}


# -- through the real simulator, when it exists --------------------------------

GRADE = getattr(sandbox, "grade", None)
STARTER = REPO_ROOT / "sandbox" / "scenarios" / "idempotent_charge" / "starter.py"
needs_grader = pytest.mark.skipif(
    GRADE is None or not STARTER.exists(),
    reason="sandbox.grade / the idempotent_charge scenario is not there",
)

CHEATS = {
    "prints a fake pass": 'print(\'{"status": "passed", "message": "All invariants held"}\')\n',
    "forges frames": FIND_CHANNEL
    + src("""
        spray(frame({"type": "ready"}))
        spray(frame({"type": "response", "id": 1, "response": {"status": "passed"}}))
    """),
    "exits at import": "raise SystemExit(0)\n",
    "exits in a call": "import os\n_real = charge\ndef charge(request, ctx):\n    os._exit(0)\n",
    "patches dispatch": src("""
        import dispatch
        dispatch.handle = lambda ns, req, cb: {"functions": [], "constants": {}}
        dispatch._call = lambda ns, req, cb: {"ok": True, "error": None, "traceback": "",
            "crashed": False, "effects": [], "value": None, "retry_after": None, "poison": None}
    """),
}


@needs_grader
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheating_through_the_real_grader_never_passes(cheat):
    # The unmodified starter fails this scenario; no trick may turn it into a pass.
    source = STARTER.read_text() + "\n" + CHEATS[cheat]
    report = GRADE(
        "idempotent_charge", source, runner_factory=JailRunner, random_schedules=20, limits=SMALL
    )
    print(cheat, "->", report["status"], report["message"][:120])
    assert report["status"] != "passed", report
    assert report["status"] in ("failed", "error", "timeout")


@needs_grader
def test_real_grader_through_the_jail_passes_the_reference():
    reference = STARTER.with_name("reference.py").read_text()
    report = GRADE(
        "idempotent_charge", reference, runner_factory=JailRunner, random_schedules=20, limits=SMALL
    )
    assert report["status"] == "passed", report


def test_kernel_attack_surface_is_filtered():
    code = src("""
        import ctypes, os, sys, threading, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        def probe():
            out = {}
            for name, flag in [("user", 0x10000000), ("net", 0x40000000), ("mount", 0x20000)]:
                rc = libc.unshare(flag)
                out["unshare_" + name] = ctypes.get_errno() if rc else "ALLOWED"
            rc = libc.syscall(321, 0, 0, 0)  # bpf (x86_64); harmless elsewhere
            out["bpf"] = ctypes.get_errno() if rc else "ALLOWED"
            box = []
            t = threading.Thread(target=lambda: box.append("thread ok"))
            t.start(); t.join()
            out["thread"] = box[0]
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            out["subprocess"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"],
                                               capture_output=True, text=True).stdout.strip()
            return out
    """)
    with run(code) as r:
        out = r.request({"fn": "probe"})["value"]
    assert (
        out["unshare_user"] == 1 and out["unshare_net"] == 1 and out["unshare_mount"] == 1
    )  # EPERM
    if os.uname().machine == "x86_64":
        assert out["bpf"] == 1
    assert out["thread"] == "thread ok" and out["fork"] == 7 and out["subprocess"] == "42"


@pytest.mark.parametrize(
    "payload",
    [
        '"[" * 200000 + "]" * 200000',  # nesting the host's JSON parser must survive
        '"1" * 100000',  # an integer too long to convert
        '"{\\"type\\": \\"response\\", \\"id\\": NaN}"',
        '"[1, 2, 3]"',  # valid JSON, not an object
        '"{\\"type\\": \\"verdict\\", \\"passed\\": true}"',
    ],
)
def test_malformed_frames_on_the_channel(payload):
    code = FIND_CHANNEL + src(f"""
        def f():
            data = ({payload}).encode()
            spray(len(data).to_bytes(4, "big") + data)
            return "ok"
    """)
    err, _, _ = expect_error(code, {"protocol"}, call={"fn": "f"})


def test_grading_process_killed_leaves_nothing_behind(tmp_path):
    """A worker killed mid-grade: --die-with-parent takes the jail down too."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "worker.py"
    learner = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        time.sleep(0.1)\n"
        "def f():\n"
        "    time.sleep(60)\n"
    )
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from sandbox.jail import JailRunner\n"
        f"r = JailRunner({learner!r}, guest_dir={str(FAKE_GUEST)!r})\n"
        "print(r.tag, flush=True)\n"
        "r.request({'fn': 'f'})\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        tag = worker.stdout.readline().strip()
        assert "saga-jail-" in tag
        time.sleep(0.3)
        assert processes_with(tag)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert_no_processes(tag)


def test_forged_setup_failure_is_not_believed():
    # "fatal" (the jail could not be set up) is only believed before learner
    # code runs; forged later it is a protocol error, not "jail_unavailable".
    code = FIND_CHANNEL + 'spray(frame({"type": "fatal", "message": "bwrap broke"}))\n'
    expect_error(code, {"protocol"})


def test_broken_guest_directory_fails_closed(tmp_path):
    (tmp_path / "dispatch.py").write_text("raise ImportError('broken grader')\n")
    tmp_path.chmod(0o755)
    (tmp_path / "dispatch.py").chmod(0o644)
    with pytest.raises(RunnerError) as err:
        JailRunner("x = 1\n", SMALL, guest_dir=tmp_path)
    assert err.value.kind == "jail_unavailable"
    assert "broken grader" in err.value.message


def test_unreadable_guest_directory_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only checked when the jail drops from root")
    (tmp_path / "dispatch.py").write_text("def handle(ns, req, cb):\n    return {}\n")
    tmp_path.chmod(0o700)
    with pytest.raises(RunnerError) as err:
        JailRunner("x = 1\n", SMALL, guest_dir=tmp_path)
    assert err.value.kind == "jail_unavailable" and "world-readable" in err.value.message


def test_exception_whose_str_raises():
    code = src("""
        class Nasty(BaseException):
            def __str__(self):
                raise SystemExit("not today")
        def f():
            raise Nasty()
        def ok():
            return "fine"
    """)
    with run(code) as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "f"})
        assert err.value.kind == "crashed" and "Nasty" in err.value.message
        assert r.request({"fn": "ok"}) == {"value": "fine"}


def test_endless_callbacks_are_capped(monkeypatch):
    monkeypatch.setattr(jail_mod, "MAX_CALLBACKS_PER_REQUEST", 500)
    code = "def f(cb):\n    while True:\n        cb({'kind': 'call'})\n"
    with run(code) as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "f", "with_callback": True}, lambda p: {"status": "ok"})
    assert err.value.kind == "protocol" and "more than 500 calls" in err.value.message
