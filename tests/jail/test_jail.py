"""The JailRunner contract: round trips, callbacks, output capture, limits,
error messages, failing closed, and the unjailed development fallback."""

from __future__ import annotations

import logging
import resource
import time

import pytest

import sandbox.jail as jail_mod
from sandbox.jail import MAX_SOURCE_BYTES, JailRunner, jail_available
from sandbox.runner import MAX_LIMITS, Limits, RunnerError

from .conftest import FAKE_GUEST, SMALL, assert_no_processes, run

ADD = "def add(a, b):\n    return a + b\n"


def test_round_trips_reuse_one_process(jail):
    with run(ADD) as r:
        assert r.jailed is True
        for i in range(50):
            assert r.request({"fn": "add", "args": [i, 1]}) == {"value": i + 1}
        tag = r.tag
    assert_no_processes(tag)


def test_module_state_does_not_survive_between_requests(jail):
    # Every request runs in a freshly loaded module, in a fresh process: globals, patched
    # modules and builtins all start over (the world says only ctx.db is durable).
    src = (
        "import builtins, json\nn = 0\ndef bump():\n    global n\n    n += 1\n"
        "    builtins.stash = getattr(builtins, 'stash', 0) + 1\n    json.stash = getattr(json, 'stash', 0) + 1\n"
        "    return [n, builtins.stash, json.stash]\n"
    )
    with run(src) as r:
        assert [r.request({"fn": "bump"})["value"] for _ in range(3)] == [[1, 1, 1]] * 3


def test_callback_round_trip(jail):
    src = "def ask(x, cb):\n    return cb({'q': x})['a'] + 1\n"
    seen = []

    def on_callback(payload):
        seen.append(payload)
        return {"a": payload["q"] * 10}

    with run(src) as r:
        assert r.request({"fn": "ask", "args": [4], "with_callback": True}, on_callback) == {
            "value": 41
        }
        assert r.request({"fn": "ask", "args": [5], "with_callback": True}, on_callback) == {
            "value": 51
        }
    assert seen == [{"q": 4}, {"q": 5}]


def test_callback_errors_surface_in_guest_code(jail):
    src = "def ask(cb):\n    return cb({'q': 1})\n"

    def boom(payload):
        raise LookupError("no such service")

    with run(src) as r:
        out = r.request({"fn": "ask", "with_callback": True}, boom)
        assert out["error"]["type"] == "CallbackError"
        assert "no such service" in out["error"]["message"]
        out = r.request({"fn": "ask", "with_callback": True})  # no handler at all
        assert out["error"]["type"] == "CallbackError"
        assert r.request({"fn": "ask", "with_callback": True}, lambda p: {"ok": 1}) == {
            "value": {"ok": 1}
        }


def test_time_in_callbacks_is_not_charged_to_learner(jail):
    src = "def ask(cb):\n    return [cb({}) for _ in range(4)]\n"

    def slow(payload):
        time.sleep(1.0)
        return {}

    with run(src, Limits(wall_seconds=2.0)) as r:
        assert r.request({"fn": "ask", "with_callback": True}, slow) == {"value": [{}] * 4}


def test_learner_exceptions_are_responses(jail):
    with run("def f():\n    raise ValueError('nope')\n") as r:
        assert r.request({"fn": "f"}) == {"error": {"type": "ValueError", "message": "nope"}}
        assert r.request({"fn": "f"})["error"]["type"] == "ValueError"


def test_output_is_separate_and_capped(jail):
    src = "print('loading')\ndef talk(n):\n    print('x' * n)\n    return 'done'\n"
    with run(src) as r:
        assert r.request({"fn": "talk", "args": [10]}) == {"value": "done"}
        kept, dropped = r.output()
        assert kept == "loading\n" + "x" * 10 + "\n"
        assert dropped == 0
        assert r.request({"fn": "talk", "args": [100_000]}) == {"value": "done"}
        kept, dropped = r.output()
        assert len(kept.encode()) == SMALL.output_bytes
        assert dropped == len("loading\n") + 11 + 100_001 - SMALL.output_bytes


def test_stderr_is_captured_too(jail):
    with run("import sys\nsys.stderr.write('warn\\n')\ndef f():\n    return 1\n") as r:
        assert r.request({"fn": "f"}) == {"value": 1}
        assert "warn" in r.output()[0]


def test_syntax_error_names_the_line(jail):
    with pytest.raises(RunnerError) as err:
        run("x = 1\ny = 2\ndef f(:\n    pass\n")
    assert err.value.kind == "syntax"
    assert err.value.message.startswith("SyntaxError on line 3:")


def test_import_time_exception(jail):
    with pytest.raises(RunnerError) as err:
        run("print('before')\nx = 1\nraise ValueError('bad config')\n")
    assert err.value.kind == "crashed"
    assert "ValueError" in err.value.message and "line 3" in err.value.message
    assert "bad config" in err.value.message
    assert err.value.output == ("before\n", 0)


def test_source_size_cap_before_starting():
    with pytest.raises(RunnerError) as err:
        JailRunner("x = 1\n" * (MAX_SOURCE_BYTES // 6 + 10), guest_dir=FAKE_GUEST)
    assert err.value.kind == "syntax"
    assert "256 KiB" in err.value.message


def test_non_utf8_bytes_rejected():
    with pytest.raises(RunnerError) as err:
        JailRunner(b"x = 1\ny = '\xff\xfe'\n", guest_dir=FAKE_GUEST)
    assert err.value.kind == "syntax"
    assert "UTF-8" in err.value.message and "line 2" in err.value.message


def test_utf8_bytes_accepted(jail):
    with run("def f():\n    return 'caf\u00e9'\n".encode()) as r:
        assert r.request({"fn": "f"}) == {"value": "caf\u00e9"}


def test_limits_are_clamped(jail):
    with run(
        ADD,
        Limits(
            cpu_seconds=999,
            wall_seconds=999,
            memory_mb=99999,
            processes=9999,
            output_bytes=10**9,
            open_files=10**6,
            file_size_mb=10**4,
        ),
    ) as r:
        assert r.limits == MAX_LIMITS


def test_rlimits_and_identity_inside_the_jail(jail):
    src = (
        "import os, resource, socket\n"
        "def probe():\n"
        "    g = resource.getrlimit\n"
        "    return {'uid': os.getuid(), 'euid': os.geteuid(), 'pid': os.getpid(),\n"
        "            'env': dict(os.environ), 'root': sorted(os.listdir('/')),\n"
        "            'cwd': os.getcwd(), 'host': socket.gethostname(),\n"
        "            'cpu': g(resource.RLIMIT_CPU), 'as': g(resource.RLIMIT_AS),\n"
        "            'nproc': g(resource.RLIMIT_NPROC), 'nofile': g(resource.RLIMIT_NOFILE),\n"
        "            'fsize': g(resource.RLIMIT_FSIZE), 'core': g(resource.RLIMIT_CORE),\n"
        "            'ifaces': [n for _, n in socket.if_nameindex()]}\n"
    )
    with run(src) as r:
        p = r.request({"fn": "probe"})["value"]
    mib = 1024 * 1024
    assert p["uid"] != 0 and p["euid"] != 0
    assert p["pid"] <= 8  # its own PID namespace
    assert set(p["env"]) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "LC_CTYPE",
        "PWD",
    }
    assert set(p["root"]) <= {
        "tmp",
        "dev",
        "proc",
        "usr",
        "lib",
        "lib64",
        "etc",
        "root",
        "guest",
        "jail",
        "opt",
        "bin",
    }
    assert p["cwd"] == "/tmp"
    assert p["env"]["PYTHONHASHSEED"] == "0"
    assert p["host"] == "saga-jail"
    assert p["ifaces"] == ["lo"]
    # this call's CPU (each request runs in its own child; the zygote sums what children used)
    assert p["cpu"] == [SMALL.cpu_seconds, SMALL.cpu_seconds + 1]
    assert p["as"] == [SMALL.memory_mb * mib] * 2
    assert p["nproc"] == [SMALL.processes] * 2
    assert p["nofile"] == [SMALL.open_files] * 2
    assert p["fsize"] == [SMALL.file_size_mb * mib] * 2
    assert p["core"] == [0, 0]


def test_answer_larger_than_frame_cap_is_a_protocol_error(jail):
    with run("def big():\n    return 'x' * (2 * 1024 * 1024)\n") as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "big"})
    assert err.value.kind == "protocol"
    assert "1 MiB" in err.value.message


def test_unencodable_answer(jail):
    with run("def f():\n    return float('nan')\n") as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "f"})
        assert err.value.kind == "protocol"
        assert "JSON" in err.value.message


def test_close_is_idempotent_and_final(jail):
    r = run(ADD)
    tag = r.tag
    r.close()
    r.close()
    assert_no_processes(tag)
    with pytest.raises(RunnerError):
        r.request({"fn": "add", "args": [1, 2]})


def test_errors_end_the_runner_but_keep_output(jail):
    src = "import os\ndef die():\n    print('last words', flush=True)\n    os._exit(3)\n"
    with run(src) as r:
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "die"})
        assert err.value.kind == "crashed"
        assert "exit code 3" in err.value.message
        assert err.value.output[0] == "last words\n"
        with pytest.raises(RunnerError):
            r.request({"fn": "die"})


def test_jail_available_is_cached():
    assert jail_available() is jail_available()


def test_real_guest_dispatch(jail):
    """Through the simulator's real sandbox/guest (default guest_dir)."""
    with JailRunner("def add(a, b):\n    return a + b\n", SMALL) as r:
        out = r.request({"op": "pure", "fn": "add", "args": [2, 40]})
    assert out["ok"] is True and out["value"] == 42


# -- failing closed, and the development fallback ---------------------------


@pytest.fixture
def no_jail(monkeypatch):
    monkeypatch.setattr(jail_mod, "jail_available", lambda: (False, "bwrap missing (test)"))


def test_refuses_without_jail(no_jail):
    with pytest.raises(RunnerError) as err:
        JailRunner(ADD, guest_dir=FAKE_GUEST)
    assert err.value.kind == "jail_unavailable"
    assert "bwrap missing (test)" in err.value.message


def test_unjailed_fallback_is_loud_and_works(no_jail, caplog):
    caplog.set_level(logging.WARNING, logger="sandbox.jail")
    with JailRunner(ADD, SMALL, allow_unjailed=True, guest_dir=FAKE_GUEST) as r:
        assert r.jailed is False
        assert r.request({"fn": "add", "args": [1, 2]}) == {"value": 3}
        tag = r.tag
    assert any(
        "UNJAILED" in rec.getMessage() and rec.levelno == logging.WARNING for rec in caplog.records
    )
    assert_no_processes(tag)


def test_unjailed_fallback_still_applies_rlimits(no_jail):
    src = "import resource\ndef lim():\n    return resource.getrlimit(resource.RLIMIT_AS)\n"
    with JailRunner(src, SMALL, allow_unjailed=True, guest_dir=FAKE_GUEST) as r:
        assert r.request({"fn": "lim"}) == {"value": [SMALL.memory_mb * 1024 * 1024] * 2}
    with pytest.raises(RunnerError) as err:
        JailRunner(
            "while True: pass\n",
            Limits(cpu_seconds=1, wall_seconds=10),
            allow_unjailed=True,
            guest_dir=FAKE_GUEST,
        )
    assert err.value.kind == "cpu"


def test_host_resource_limits_untouched(jail):
    before = resource.getrlimit(resource.RLIMIT_AS)
    with run(ADD) as r:
        r.request({"fn": "add", "args": [1, 1]})
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_concurrent_runners_do_not_interfere(jail):
    import threading

    results, errors = {}, []

    def work(k):
        try:
            with run(f"K = {k}\ndef who(x):\n    return [K, x]\n") as r:
                results[k] = [r.request({"fn": "who", "args": [i]})["value"] for i in range(100)]
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == {k: [[k, i] for i in range(100)] for k in range(6)}


def test_interrupted_callback_ends_the_runner(jail):
    class Stop(BaseException):
        pass

    def stop(payload):
        raise Stop()

    with run("def ask(cb):\n    return cb({})\n") as r:
        with pytest.raises(Stop):
            r.request({"fn": "ask", "with_callback": True}, stop)
        with pytest.raises(RunnerError) as err:
            r.request({"fn": "ask", "with_callback": True}, lambda p: {})
        assert "interrupted" in err.value.message
        tag = r.tag
    assert_no_processes(tag)


def test_request_must_be_json(jail):
    with run(ADD) as r:
        with pytest.raises(ValueError):
            r.request({"fn": "add", "args": [object(), 1]})
        assert r.request({"fn": "add", "args": [1, 1]}) == {"value": 2}


def test_closing_stdout_does_not_busy_loop_the_host(jail, monkeypatch):
    calls = []
    real_poll = jail_mod._poll

    def counting_poll(*args):
        calls.append(args)
        return real_poll(*args)

    monkeypatch.setattr(jail_mod, "_poll", counting_poll)
    src = (
        "import os, time\nos.close(1)\nos.close(2)\ndef f():\n    time.sleep(1)\n    return 'ok'\n"
    )
    with run(src) as r:
        calls.clear()
        assert r.request({"fn": "f"}) == {"value": "ok"}
    assert len(calls) < 50  # it waited on the channel; it did not spin on the closed output pipe


# -- limits per call, and per grading -----------------------------------------

BURN = (
    "import resource, time\n"
    "def used():\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    return u.ru_utime + u.ru_stime\n"
    "def burn(seconds):\n"
    "    end = used() + seconds\n"
    "    while used() < end:\n"
    "        pass\n"
    "    return 'burnt'\n"
    "def nap(seconds):\n"
    "    time.sleep(seconds)\n"
    "    return 'rested'\n"
)


def test_wall_clock_is_per_call(jail):
    with run(BURN, Limits(wall_seconds=2.0)) as r:
        for _ in range(4):  # 2.4 s in all, each call well under 2 s
            assert r.request({"fn": "nap", "args": [0.6]}) == {"value": "rested"}


def test_wall_clock_total_over_a_grading(jail, monkeypatch):
    monkeypatch.setattr(jail_mod, "GRADING_TOTAL_FACTOR", 2)
    with run(BURN, Limits(wall_seconds=2.0)) as r:
        with pytest.raises(RunnerError) as err:
            for _ in range(5):
                r.request({"fn": "nap", "args": [1.0]})
    assert err.value.kind == "timeout"
    assert "4 s of wall time in total" in err.value.message


def test_cpu_is_per_call(jail):
    with run(BURN, Limits(cpu_seconds=1, wall_seconds=10)) as r:
        for _ in range(3):  # 1.8 s of CPU in all, 0.6 s per call
            assert r.request({"fn": "burn", "args": [0.6]}) == {"value": "burnt"}


def test_cpu_total_over_a_grading(jail, monkeypatch):
    monkeypatch.setattr(jail_mod, "GRADING_TOTAL_FACTOR", 2)
    with run(BURN, Limits(cpu_seconds=1, wall_seconds=10)) as r:
        with pytest.raises(RunnerError) as err:
            for _ in range(5):
                r.request({"fn": "burn", "args": [0.7]})
    assert err.value.kind == "cpu"
    assert "2 s of CPU time in total" in err.value.message


def test_failed_probe_is_retried_later(monkeypatch):
    results = iter([(False, "transient"), (True, "ok")])
    monkeypatch.setattr(jail_mod, "_probe", lambda: next(results))
    monkeypatch.setattr(jail_mod, "_PROBE", None)
    assert jail_mod.jail_available() == (False, "transient")
    assert jail_mod.jail_available() == (False, "transient")  # cached for a while
    monkeypatch.setattr(jail_mod, "PROBE_RETRY_SECONDS", 0.0)
    assert jail_mod.jail_available() == (True, "ok")
    assert jail_mod.jail_available() == (True, "ok")  # success is cached for good


def test_set_order_is_the_same_in_every_jail(jail):
    # The same (code, seed) must give the same trace in every grading and every replay, even for
    # code whose behaviour depends on the iteration order of a set of strings.
    src = "def order():\n    return list({'order-%d' % i for i in range(50)})\n"
    answers = []
    for _ in range(2):
        with run(src) as r:
            answers.append(r.request({"fn": "order"})["value"])
    assert answers[0] == answers[1]


def test_files_and_processes_left_by_a_call_are_gone_by_the_next(jail):
    # State kept in a scratch file or in a process that outlives the call would be memory the
    # world says does not exist: both are swept after every call.
    src = (
        "import os, time\n"
        "def stash():\n"
        "    seen = os.path.exists('/tmp/state') or os.path.exists(os.path.join(os.getcwd(), 'state'))\n"
        "    open('state', 'w').write('x')\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    return [seen, sorted(p for p in os.listdir('/proc') if p.isdigit() and alive(p))]\n"
        # A killed process stays a zombie until the namespace's init reaps it, and on a loaded
        # machine it may not even have run its exit yet (SIGKILL still pending) when the next call
        # starts: either way it runs nothing more and keeps nothing.
        "def alive(pid):\n"
        "    try:\n"
        "        status = dict(l.split(':', 1) for l in open(f'/proc/{pid}/status') if ':' in l)\n"
        "    except OSError:\n"
        "        return False\n"
        "    pending = int(status['SigPnd'], 16) | int(status['ShdPnd'], 16)\n"
        "    return status['State'].split()[0] != 'Z' and not pending & (1 << 8)\n"
    )
    with run(src) as r:
        first = r.request({"fn": "stash"})["value"]
        second = r.request({"fn": "stash"})["value"]
    assert first[0] is False and second[0] is False
    # init, the zygote and this call's process (its sleeper from the first call is gone)
    assert len(second[1]) <= 4
