"""Guest-side entry point: runs inside the jail, in front of learner code.

Started by ``sandbox.jail.JailRunner`` as::

    python -I -S -B bootstrap.py '<json config>'

The config (argv, not secret) names the two protocol pipe fds, the guest
module directory, the resource limits and, when the host is root, the
unprivileged uid to drop to.  The learner's source never travels in argv or
stdin: it arrives as the first frame on the protocol channel.

Protocol: frames are a 4-byte big-endian length followed by a UTF-8 JSON
object with a ``type``.  Guest -> host first: ``booted`` (set up, limits
applied, privileges dropped) or ``fatal`` (could not set up).  Host -> guest:
``start`` (the source); guest -> host: ``ready``, ``syntax`` or
``load_error``.  Then, per request: host -> guest ``request`` (with a random
``id``), guest -> host any number of ``callback`` (host answers each with
``callback_result``), then one ``response`` or ``error``.

Everything here is best effort against code running in the same process: the
learner can find these fds, patch modules, or kill the process.  The host
validates every frame and computes the verdict itself; this file only keeps
honest programs on a clean channel and makes dishonest ones work for it.

Flat, stdlib only, no imports from the host package.
"""
import os
import sys

MAX_IN_FRAME = 16 * 1024 * 1024


def _exit_fatal(wfd, message):
    try:
        _write_frame(wfd, {"type": "fatal", "message": message})
    finally:
        os._exit(70)


def _write_frame(wfd, obj):
    import json
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")
    buf = len(data).to_bytes(4, "big") + data
    view = memoryview(buf)
    while view:
        n = os.write(wfd, view)
        view = view[n:]


def _read_exact(rfd, n):
    chunks = []
    while n:
        chunk = os.read(rfd, min(n, 1 << 20))
        if not chunk:
            os._exit(0)  # host went away: nothing left to do
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(rfd):
    import json
    size = int.from_bytes(_read_exact(rfd, 4), "big")
    if size > MAX_IN_FRAME:
        os._exit(71)
    obj = json.loads(_read_exact(rfd, size).decode("utf-8"))
    if not isinstance(obj, dict):
        os._exit(71)
    return obj


def _hide_fd(fd):
    """Move a protocol fd to a random high number, close-on-exec."""
    import fcntl
    import random
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 1024:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
            soft = min(1024, hard)
        except (ValueError, OSError):
            pass
    top = 1000 if soft == resource.RLIM_INFINITY else min(1000, soft)
    if top <= 32:
        return fd
    rng = random.SystemRandom()
    for _ in range(20):
        target = rng.randrange(top // 3, top)
        try:
            os.fstat(target)
            continue  # taken
        except OSError:
            pass
        new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, target)
        os.close(fd)
        return new
    return fd


def _limit_ipc():
    # SysV shared memory and message queues live outside RLIMIT_AS.  We are
    # still root (before the uid drop) in a fresh IPC namespace, so shrink
    # them to nothing there.  Harmless if not permitted (unjailed mode).
    for name in ("shmmax", "shmall", "shmmni", "msgmni"):
        try:
            with open("/proc/sys/kernel/" + name, "w") as fh:
                fh.write("0")
        except OSError:
            pass


def _set_limits(limits, cpu_total):
    import resource
    mib = 1024 * 1024

    def setlim(res, value):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(res)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(res, (value, value))

    # Soft: this phase's CPU (re-armed before every request by _arm_cpu);
    # hard: the whole grading's.
    cpu = int(limits["cpu_seconds"])
    total = max(int(cpu_total), cpu + 1)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, total))
    except (ValueError, OSError):
        setlim(resource.RLIMIT_CPU, cpu)
    setlim(resource.RLIMIT_AS, int(limits["memory_mb"]) * mib)
    setlim(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mib)
    setlim(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    setlim(resource.RLIMIT_CORE, 0)
    setlim(resource.RLIMIT_NPROC, int(limits["processes"]))


def _arm_cpu(resource, per_call):
    """Allow this request ``per_call`` more CPU seconds (up to the hard limit)."""
    try:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = int(usage.ru_utime + usage.ru_stime) + 1 + per_call
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


def _drop_privileges(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise OSError("uid drop did not take effect")
    try:
        os.setuid(0)
    except OSError:
        return
    raise OSError("could regain root after dropping privileges")


def _describe(exc):
    try:
        text = str(exc)
        if not isinstance(text, str):
            text = "<unprintable>"
    except BaseException:  # noqa: BLE001 - a learner __str__ may raise anything
        text = "<unprintable>"
    if len(text) > 2000:
        text = text[:2000] + "..."
    return text


def _learner_lineno(exc):
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<solution>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def main():
    import json
    config = json.loads(sys.argv[1])
    rfd = _hide_fd(int(config["in_fd"]))
    wfd = _hide_fd(int(config["out_fd"]))
    del sys.argv[1:]

    try:
        if config.get("drop_uid") is not None:
            _limit_ipc()
        _set_limits(config["limits"], config.get("cpu_total_seconds", 0))
        if config.get("drop_uid") is not None:
            _drop_privileges(int(config["drop_uid"]))
        os.chdir(config.get("workdir") or "/tmp")
    except BaseException as exc:  # noqa: BLE001 - report and stop
        _exit_fatal(wfd, "jail setup failed: %s: %s" % (type(exc).__name__, exc))

    guest_dir = config["guest_dir"]
    if guest_dir not in sys.path:
        sys.path.insert(0, guest_dir)
    try:
        import dispatch
        handle = dispatch.handle  # captured before learner code can patch it
    except BaseException as exc:  # noqa: BLE001
        _exit_fatal(wfd, "could not load the grader's dispatch module: %s: %s"
                    % (type(exc).__name__, exc))

    import builtins
    per_call_cpu = int(config["limits"]["cpu_seconds"])
    del config

    # Set up and ready for the source.  From here on, "fatal" is never sent:
    # the host only believes it before learner code could have run.
    _write_frame(wfd, {"type": "booted"})
    start = _read_frame(rfd)
    if start.get("type") != "start" or not isinstance(start.get("source"), str):
        os._exit(71)
    source = start["source"]
    del start

    try:
        code = compile(source, "<solution>", "exec")
    except (SyntaxError, ValueError) as exc:
        _write_frame(wfd, {
            "type": "syntax",
            "exc_type": type(exc).__name__,
            "message": _describe(getattr(exc, "msg", None) or exc),
            "lineno": getattr(exc, "lineno", None) if isinstance(getattr(exc, "lineno", None), int) else None,
            "text": (getattr(exc, "text", None) or "")[:200],
        })
        os._exit(0)
    except BaseException as exc:  # MemoryError, RecursionError in the parser
        _flush_output()
        _write_frame(wfd, {"type": "load_error", "exc_type": type(exc).__name__,
                           "message": _describe(exc), "lineno": None})
        os._exit(0)
    del source

    namespace = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too
        _flush_output()
        try:
            name = type(exc).__name__
            _write_frame(wfd, {"type": "load_error", "exc_type": name[:100],
                               "message": _describe(exc), "lineno": _learner_lineno(exc)})
        finally:
            os._exit(0)
    del code

    _flush_output()
    _write_frame(wfd, {"type": "ready"})
    _serve(rfd, wfd, handle, namespace, per_call_cpu)


class CallbackError(RuntimeError):
    """The trusted side could not answer a callback."""


def _serve(rfd, wfd, handle, namespace, per_call_cpu):
    import resource
    while True:
        frame = _read_frame(rfd)
        _arm_cpu(resource, per_call_cpu)
        if frame.get("type") != "request":
            os._exit(71)
        rid = frame.get("id")
        request = frame.get("request")
        del frame

        def callback(payload, _rid=rid):
            _flush_output()
            _write_frame(wfd, {"type": "callback", "id": _rid, "payload": payload})
            reply = _read_frame(rfd)
            if reply.get("type") != "callback_result" or reply.get("id") != _rid:
                os._exit(71)
            if "error" in reply:
                raise CallbackError(str(reply["error"]))
            return reply.get("result")

        try:
            response = handle(namespace, request, callback)
        except BaseException as exc:  # noqa: BLE001
            _flush_output()
            kind = "memory" if isinstance(exc, MemoryError) else "crashed"
            _write_frame(wfd, {"type": "error", "id": rid, "kind": kind,
                               "exc_type": type(exc).__name__[:100],
                               "message": _describe(exc)})
            continue
        _flush_output()
        try:
            _write_frame(wfd, {"type": "response", "id": rid, "response": response})
        except BaseException as exc:  # noqa: BLE001 - not JSON-shaped
            _write_frame(wfd, {"type": "error", "id": rid, "kind": "protocol",
                               "exc_type": type(exc).__name__[:100],
                               "message": "the answer could not be encoded as JSON: "
                                          + _describe(exc)})


if __name__ == "__main__":
    main()
