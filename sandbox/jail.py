"""The jail: runs untrusted learner code in a bubblewrap sandbox.

``JailRunner`` implements the ``Runner`` protocol of ``sandbox.runner``.  One
child process per grading, reused for many requests.  The child runs the
guest bootstrap (``sandbox/guest/bootstrap.py``) with the *base* Python
interpreter (never the project venv), inside:

* new PID, network, IPC, UTS (and cgroup) namespaces; ``--die-with-parent``,
  ``--new-session``; an empty environment;
* a root filesystem made only of read-only binds of what the interpreter
  needs (the Python install prefix, ``/usr/lib``, ``/usr/lib64``,
  ``/etc/ld.so.cache``), the guest modules at ``/guest``, a fresh ``/proc``
  and ``/dev``, and a small private tmpfs at ``/tmp`` (the only writable
  place).  Never the project directory, its database or its settings;
* ``setrlimit`` limits (CPU, address space, processes, open files, file
  size, no core dumps) applied by the bootstrap before learner code runs;
* when the host runs as root: the bootstrap starts with only
  CAP_SETUID/CAP_SETGID and drops to a random unprivileged uid, so that
  RLIMIT_NPROC is enforced (the kernel never enforces it for uid 0).

The protocol runs on its own pair of pipes (length-prefixed JSON frames);
learner stdout/stderr go to a third pipe that is read with a cap.  Every
frame is size-capped and shape-checked here; the wall clock is enforced
here.  Nothing the child says is trusted beyond "this is what the learner's
functions returned".

No Django here, stdlib only.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .runner import GUEST_DIR, Callback, Limits, RunnerError, clamp_limits

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).resolve().parent / "guest" / "bootstrap.py"
REPO_ROOT = Path(__file__).resolve().parent.parent

MAX_SOURCE_BYTES = 256 * 1024  # learner source accepted at all
MAX_FRAME_BYTES = 1024 * 1024  # any single frame from the guest
MAX_HOST_FRAME_BYTES = 8 * 1024 * 1024
TMPFS_BYTES = 16 * 1024 * 1024  # size of the private /tmp (RAM-backed)
STOP_GRACE_SECONDS = 2.0
# CPU and wall limits apply to loading the source and to each request; a
# whole grading (one process, thousands of requests) may use this many times
# each in total, so protocol overhead never fails an honest solution while a
# submission that is slow on every call still ends.
GRADING_TOTAL_FACTOR = 10
# Callbacks (RPCs to the simulated world) one request may make.  Time spent in
# the host's callback handler is not charged to the learner, so without a cap
# a loop of calls could keep the grader busy far past the wall clock.
MAX_CALLBACKS_PER_REQUEST = 256
# Other callbacks (reads of the store, the time) are answered from data the host already has;
# the guest asks for each row once, so honest code stays far below this.
MAX_READS_PER_REQUEST = 4096
_READ_KINDS = ("read", "scan", "now", "input")

# Not -I: it implies -E, which would ignore PYTHONHASHSEED. The environment is ours alone
# (bwrap --clearenv, or an explicit env when unjailed), so -s -S -B -P keep the isolation.
GUEST_FLAGS = ("-s", "-S", "-B", "-P")

# Every jail process carries ``TAG_PREFIX + random`` in its command line.
TAG_PREFIX = "saga-jail-"

# Where the pieces appear inside the jail.
JAIL_GUEST = "/guest"
JAIL_BOOTSTRAP = "/jail/bootstrap.py"

_GUEST_TYPES = {"booted", "ready", "syntax", "load_error", "response", "callback", "error", "fatal"}
_ERROR_KINDS = {"syntax", "timeout", "cpu", "memory", "output", "crashed", "protocol"}

_SIGNAL_NAMES = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGABRT: "aborted",
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGPIPE: "broken pipe",
    signal.SIGHUP: "hangup",
    signal.SIGINT: "interrupted",
}


# --------------------------------------------------------------------------
# Building the jail


def _interpreter() -> tuple[str, str]:
    """The base interpreter (not the venv) and its install prefix, resolved."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    exe = os.path.realpath(exe)
    prefix = os.path.realpath(sys.base_prefix)
    return exe, prefix


def _is_within(path: str, root: str) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    out, cur = [], ""
    for part in parts:
        cur = cur + "/" + part
        out.append(cur)
    return out


def _bwrap_argv(
    *,
    bwrap: str,
    guest_dir: str,
    bootstrap_config: dict[str, Any],
    root_mode: bool,
    seccomp_fd: int | None = None,
) -> list[str]:
    exe, prefix = _interpreter()
    argv = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "saga-jail",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
        # A fixed hash seed: set order is part of what learner code does, and the same
        # (code, seed) must give the same trace in every grading and every replay.
        "--setenv",
        "PYTHONHASHSEED",
        "0",
    ]
    if root_mode:
        # No user namespace: a uid mapped to host root would bypass
        # RLIMIT_NPROC.  Keep only what the bootstrap needs to drop to an
        # unprivileged uid; it loses these as soon as it does.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--disable-userns"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]

    made: set[str] = set()

    def mkdirs(dest: str) -> None:
        for parent in _parents(dest):
            if parent not in made:
                argv.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)

    def ro_bind(src: str, dest: str) -> None:
        mkdirs(dest)
        argv.extend(["--ro-bind", src, dest])
        made.add(dest)

    for lib in ("/usr/lib", "/usr/lib64"):
        if os.path.isdir(lib) and not os.path.islink(lib):
            ro_bind(lib, lib)
    for top in ("/lib", "/lib64"):
        if os.path.islink(top):
            argv.extend(["--symlink", os.readlink(top), top])
        elif os.path.isdir(top):
            ro_bind(top, top)
    if os.path.exists("/etc/ld.so.cache"):
        ro_bind("/etc/ld.so.cache", "/etc/ld.so.cache")
    if not any(_is_within(prefix, lib) for lib in ("/usr/lib", "/usr/lib64", "/lib", "/lib64")):
        ro_bind(prefix, prefix)
    if not _is_within(exe, prefix):
        ro_bind(exe, exe)
    ro_bind(guest_dir, JAIL_GUEST)
    ro_bind(str(BOOTSTRAP), JAIL_BOOTSTRAP)
    argv += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/tmp",
        "--chdir",
        "/tmp",
        "--",
        exe,
        *GUEST_FLAGS,
        JAIL_BOOTSTRAP,
        json.dumps(bootstrap_config),
    ]
    return argv


# --------------------------------------------------------------------------
# seccomp: a small deny list on top of the namespaces and the uid drop.  The
# learner is an unprivileged uid with no capabilities and no_new_privs; this
# removes kernel attack surface an unprivileged process would otherwise have
# (nested user namespaces above all).

_SECCOMP_ARCH = {
    # machine: (AUDIT_ARCH, clone, clone3, {denied syscall numbers}, x32 bit)
    "x86_64": (
        0xC000003E,
        56,
        435,
        {
            272,
            308,  # unshare, setns
            248,
            249,
            250,  # add_key, request_key, keyctl
            321,
            298,
            323,  # bpf, perf_event_open, userfaultfd
            425,
            426,
            427,  # io_uring_*
            165,
            166,
            155,
            161,  # mount, umount2, pivot_root, chroot
            428,
            429,
            430,
            431,
            432,
            433,
            442,  # new mount API
            101,
            310,
            311,  # ptrace, process_vm_readv/writev
            135,  # personality
        },
        True,
    ),
    "aarch64": (
        0xC00000B7,
        220,
        435,
        {
            97,
            268,
            217,
            218,
            219,
            280,
            241,
            282,
            425,
            426,
            427,
            40,
            39,
            41,
            51,
            428,
            429,
            430,
            431,
            432,
            433,
            442,
            117,
            270,
            271,
            92,
        },
        False,
    ),
}
_CLONE_NS_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter for bwrap --seccomp, or None if this
    architecture is not known (the jail then runs without it, logged)."""
    import struct

    arch = _SECCOMP_ARCH.get(os.uname().machine)
    if arch is None:
        return None
    audit_arch, clone_nr, clone3_nr, denied, has_x32 = arch
    LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    EPERM, ENOSYS = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    prog = [(LD, 0, 0, 4), (JEQ, 1, 0, audit_arch), (RET, 0, 0, KILL), (LD, 0, 0, 0)]
    if has_x32:
        prog += [(JGE, 0, 1, 0x40000000), (RET, 0, 0, EPERM)]
    for nr in sorted(denied):
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, EPERM)]
    prog += [(JEQ, 0, 1, clone3_nr), (RET, 0, 0, ENOSYS)]  # libc falls back to clone
    # clone(flags, ...): flags is args[0]; its low 32 bits sit at offset 16.
    prog += [
        (JEQ, 0, 3, clone_nr),
        (LD, 0, 0, 16 if sys.byteorder == "little" else 20),
        (JSET, 0, 1, _CLONE_NS_FLAGS),
        (RET, 0, 0, EPERM),
        (RET, 0, 0, ALLOW),
    ]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def _seccomp_fd() -> int | None:
    prog = seccomp_program()
    if prog is None:
        return None
    r, w = os.pipe()
    try:
        os.write(w, prog)
    finally:
        os.close(w)
    return r


def _check_layout(guest_dir: str) -> str | None:
    """Refuse layouts that would expose the project to learner code."""
    exe, prefix = _interpreter()
    root = str(REPO_ROOT)
    if _is_within(prefix, root) or _is_within(root, prefix) or _is_within(exe, root):
        return (
            "the base Python install (%s) overlaps the project directory; "
            "the jail would expose the project" % prefix
        )
    if _is_within(root, guest_dir):
        return "the guest directory %s contains the project directory" % guest_dir
    if os.geteuid() == 0:
        # Learner code runs as an unprivileged uid and must be able to import these.
        try:
            paths: list[str | Path] = [guest_dir, *Path(guest_dir).glob("*.py")]
            unreadable = [p for p in paths if os.stat(p).st_mode & 0o004 == 0]
        except OSError as exc:
            return "cannot inspect the guest directory: %s" % exc
        if unreadable:
            return (
                "the guest modules must be world-readable for the jail's unprivileged "
                "user: %s" % ", ".join(str(p) for p in unreadable[:3])
            )
    return None


_PROBE: tuple[float, tuple[bool, str]] | None = None
_PROBE_LOCK = threading.Lock()
PROBE_RETRY_SECONDS = 60.0


def jail_available() -> tuple[bool, str]:
    """Can we build the real jail here?  Probed once per process and cached;
    a failed probe is retried after a minute (a transient failure, or bwrap
    installed since, must not disable grading for the worker's lifetime)."""
    global _PROBE
    with _PROBE_LOCK:
        if _PROBE is not None:
            when, result = _PROBE
            if result[0] or time.monotonic() - when < PROBE_RETRY_SECONDS:
                return result
        result = _probe()
        _PROBE = (time.monotonic(), result)
        return result


def _probe() -> tuple[bool, str]:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False, "bubblewrap (bwrap) is not installed"
    problem = _check_layout(str(GUEST_DIR))
    if problem:
        return False, problem
    exe, _ = _interpreter()
    root_mode = os.geteuid() == 0
    seccomp = _seccomp_fd()
    argv = _bwrap_argv(
        bwrap=bwrap,
        guest_dir=str(GUEST_DIR),
        bootstrap_config={},
        root_mode=root_mode,
        seccomp_fd=seccomp,
    )
    # Same jail, but run a tiny probe instead of the bootstrap.
    cut = argv.index("--")
    probe = (
        "import os,sys,socket,json;"
        "assert not os.path.exists(%r);"
        "assert not os.environ.get('SECRET_KEY');"
        "print('jail-ok', os.getpid())" % str(REPO_ROOT)
    )
    argv = argv[:cut] + ["--", exe, "-I", "-S", "-B", "-c", probe]
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd="/",
            pass_fds=() if seccomp is None else (seccomp,),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return False, "could not run bubblewrap: %s" % exc
    finally:
        if seccomp is not None:
            os.close(seccomp)
    out = proc.stdout.decode(errors="replace").split()
    if proc.returncode != 0 or out[:1] != ["jail-ok"]:
        err = proc.stderr.decode(errors="replace").strip()[-500:]
        return False, "bubblewrap probe failed (exit %s): %s" % (proc.returncode, err)
    if out[1:2] != ["2"] and out[1:2] != ["1"]:
        return False, "bubblewrap probe did not get its own PID namespace"
    if seccomp is None:
        log.warning("no seccomp filter for %s: the jail runs without one", os.uname().machine)
    return True, "bubblewrap %s (%s mode%s)" % (
        bwrap,
        "root" if root_mode else "user-namespace",
        ", seccomp" if seccomp is not None else ", no seccomp",
    )


# --------------------------------------------------------------------------
# Runner


def _fmt_bytes(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return "%d MiB" % (n // (1024 * 1024))
    if n % 1024 == 0:
        return "%d KiB" % (n // 1024)
    return "%d bytes" % n


def _fmt_seconds(s: float) -> str:
    return ("%g" % s) + " s"


def _check_source(source: Any) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        if len(raw) > MAX_SOURCE_BYTES:
            raise RunnerError(
                "syntax",
                "your file is %s; the limit is %s"
                % (_fmt_size(len(raw)), _fmt_bytes(MAX_SOURCE_BYTES)),
            )
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise RunnerError(
                "syntax",
                "your file is not valid UTF-8 text (byte 0x%02x on line %d); "
                "save it as UTF-8" % (raw[exc.start], line),
            ) from None
    if not isinstance(source, str):
        raise RunnerError("syntax", "the submission is not text")
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:
        raise RunnerError(
            "syntax",
            "your file contains characters that are not valid Unicode text (lone surrogates)",
        ) from None
    if size > MAX_SOURCE_BYTES:
        raise RunnerError(
            "syntax",
            "your file is %s; the limit is %s" % (_fmt_size(size), _fmt_bytes(MAX_SOURCE_BYTES)),
        )
    return source


def _fmt_size(n: int) -> str:
    if n >= 1024 * 1024:
        return "%.1f MiB" % (n / (1024 * 1024))
    if n >= 1024:
        return "%.1f KiB" % (n / 1024)
    return "%d bytes" % n


class JailRunner:
    """Runs learner code in a jailed child process (see module docstring).

    ``JailRunner(source, limits=Limits(), *, allow_unjailed=False,
    guest_dir=None)``.  The child starts in ``__init__``: a source that does
    not compile raises ``RunnerError("syntax", ...)`` there, like
    ``InProcessRunner``.  Any ``RunnerError`` raised by this class carries an
    ``output`` attribute with ``(kept_text, dropped_bytes)`` printed so far.

    ``jailed`` is False when running in the unjailed development fallback.
    ``tag`` is a random marker present in the command line of every jail
    process (used by tests to prove nothing is left behind).
    """

    def __init__(
        self,
        source: str | bytes,
        limits: Limits = Limits(),  # noqa: B008 -- frozen dataclass
        *,
        allow_unjailed: bool = False,
        guest_dir: str | os.PathLike[str] | None = None,
    ):
        self.limits = clamp_limits(limits)
        self.tag = TAG_PREFIX + secrets.token_hex(8)
        self.jailed = False
        self.jail_reason = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._fds: dict[str, int] = {}
        self._inbuf = bytearray()
        self._out = bytearray()
        self._dropped = 0
        self._budget = float(self.limits.wall_seconds)  # this call (or loading)
        self._total_wall = float(self.limits.wall_seconds) * GRADING_TOTAL_FACTOR
        self._total_used = 0.0  # all calls so far
        self._dead: RunnerError | None = None
        self._kill_reason: RunnerError | None = None
        self._workdir: str | None = None
        self._out_eof = False
        self._lock = threading.Lock()
        self._flood_limit = max(16 * self.limits.output_bytes, 1024 * 1024)

        source = _check_source(source)
        guest = os.path.realpath(str(guest_dir) if guest_dir is not None else str(GUEST_DIR))
        if not os.path.isdir(guest):
            raise ValueError("guest_dir %s is not a directory" % guest)

        ok, reason = jail_available()
        problem = _check_layout(guest)
        if problem:
            ok, reason = False, problem
        self.jail_reason = reason
        if ok:
            self.jailed = True
        elif not allow_unjailed:
            raise RunnerError(
                "jail_unavailable",
                "submissions cannot be graded on this server right now: the "
                "sandbox is not available (%s)" % reason,
            )
        else:
            log.warning(
                "SANDBOX RUNNING UNJAILED (allow_unjailed=True): learner code runs "
                "with rlimits only, without namespaces or a private filesystem. "
                "Never use this in production. Reason: %s",
                reason,
            )
        try:
            self._start(guest)
            frame = self._receive(expect={"booted", "fatal"})
            if frame["type"] == "fatal":
                raise RunnerError(
                    "jail_unavailable",
                    "the sandbox failed to start: %s" % _short(frame.get("message")),
                )
            self._send({"type": "start", "source": source})
            self._handle_start_frame(self._receive(expect={"ready", "syntax", "load_error"}))
        except RunnerError as exc:
            self._die(exc)
            err = self._with_output(exc)
            self.close()
            raise err from None
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------

    def _start(self, guest: str) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        out_r, out_w = os.pipe()
        self._fds = {"to_child": to_child_w, "from_child": from_child_r, "out": out_r}
        config = {
            "in_fd": to_child_r,
            "out_fd": from_child_w,
            "limits": {name: getattr(self.limits, name) for name in Limits.__dataclass_fields__},
            "cpu_total_seconds": self.limits.cpu_seconds * GRADING_TOTAL_FACTOR,
            "tag": self.tag,
            # Only inside a PID namespace may the guest sweep away every process it can signal.
            "pid_namespace": self.jailed,
        }
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        extra_fds: list[int] = []
        if self.jailed:
            root_mode = os.geteuid() == 0
            config["guest_dir"] = JAIL_GUEST
            config["workdir"] = "/tmp"
            # Random uid per run: RLIMIT_NPROC counts per uid, so concurrent
            # gradings must not share one.  Drawn from [2^30, 2^31), far above
            # real accounts and the usual subordinate-uid ranges.
            config["drop_uid"] = (1 << 30) + secrets.randbelow((1 << 30) - 1) if root_mode else None
            seccomp = _seccomp_fd()
            if seccomp is not None:
                extra_fds.append(seccomp)
            argv = _bwrap_argv(
                bwrap=shutil.which("bwrap") or "bwrap",
                guest_dir=guest,
                bootstrap_config=config,
                root_mode=root_mode,
                seccomp_fd=seccomp,
            )
            cwd = "/"
        else:
            exe, _ = _interpreter()
            self._workdir = tempfile.mkdtemp(prefix="saga-unjailed-")
            os.chmod(self._workdir, 0o700)
            config["guest_dir"] = guest
            config["workdir"] = self._workdir
            config["drop_uid"] = None
            argv = [exe, *GUEST_FLAGS, str(BOOTSTRAP), json.dumps(config)]
            env.update(
                {
                    "HOME": self._workdir,
                    "LANG": "C.UTF-8",
                    "PYTHONDONTWRITEBYTECODE": "1",
                    "PYTHONHASHSEED": "0",
                }
            )
            cwd = self._workdir
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(to_child_r, from_child_w, *extra_fds),
                start_new_session=True,
                close_fds=True,
                env=env,
                cwd=cwd,
            )
        except OSError as exc:
            for fd in (to_child_w, from_child_r, out_r):
                os.close(fd)
            self._fds = {}
            raise RunnerError("jail_unavailable", "could not start the sandbox: %s" % exc) from None
        finally:
            for fd in (to_child_r, from_child_w, out_w, *extra_fds):
                os.close(fd)
        for fd in self._fds.values():
            os.set_blocking(fd, False)

    def _handle_start_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ready":
            return
        if kind == "syntax":
            lineno = frame.get("lineno")
            msg = _short(frame.get("message"))
            where = " on line %d" % lineno if isinstance(lineno, int) else ""
            text = _short(frame.get("text"), 200).strip()
            detail = "%s%s: %s" % (_short(frame.get("exc_type"), 40) or "SyntaxError", where, msg)
            if text:
                detail += " (%s)" % text
            raise RunnerError("syntax", detail)
        if kind == "load_error":
            raise self._exception_error(frame, "while your file was being loaded")

    def _exception_error(self, frame: dict[str, Any], when: str) -> RunnerError:
        exc_type = _short(frame.get("exc_type"), 100) or "an exception"
        message = _short(frame.get("message"))
        lineno = frame.get("lineno")
        where = (
            " (line %d)" % lineno
            if isinstance(lineno, int) and not isinstance(lineno, bool)
            else ""
        )
        if exc_type == "MemoryError" or frame.get("kind") == "memory":
            return RunnerError(
                "memory",
                "your code used more than %d MiB of memory (MemoryError %s%s)"
                % (self.limits.memory_mb, when, where),
            )
        if frame.get("kind") == "protocol":
            return RunnerError("protocol", message)
        if frame.get("kind") == "cpu":
            return RunnerError("cpu", message)
        if frame.get("kind") == "died":
            return RunnerError("crashed", message)
        text = "your code raised %s %s%s" % (exc_type, when, where)
        if message:
            text += ": " + message
        return RunnerError("crashed", text)

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                _kill_tree(proc)
            for fd in self._fds.values():
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._fds = {}
            if self._workdir:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None
            if self._dead is None:
                self._dead = RunnerError("crashed", "the sandbox was already closed")

    def __enter__(self) -> JailRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._proc is not None:
                self.close()
        except Exception:
            pass

    # -- Runner protocol ---------------------------------------------------

    def request(
        self, request: dict[str, Any], on_callback: Callback | None = None
    ) -> dict[str, Any]:
        if self._dead is not None:
            raise self._with_output(RunnerError(self._dead.kind, self._dead.message))
        # Unpredictable ids: a frame forged by learner code (who found the
        # channel) has to guess it, and the genuine answer that follows it
        # is then detected as a second, out-of-turn answer.
        rid = secrets.randbits(52)
        encoded = self._encode({"type": "request", "id": rid, "request": request})
        self._budget = float(self.limits.wall_seconds)
        callbacks = reads = 0
        try:
            self._send(encoded)
            while True:
                frame = self._receive(expect={"response", "callback", "error"})
                if frame.get("id") != rid:
                    raise RunnerError(
                        "protocol",
                        "the sandbox answered out of turn "
                        "(something other than the grader wrote to its channel)",
                    )
                if frame["type"] == "response":
                    response = frame.get("response")
                    if not isinstance(response, dict):
                        raise RunnerError("protocol", "the sandbox's answer is not a JSON object")
                    if self._inbuf:
                        raise RunnerError(
                            "protocol",
                            "the sandbox sent more than one answer "
                            "(something other than the grader wrote to its channel)",
                        )
                    return response
                if frame["type"] == "error":
                    err = self._exception_error(frame, "during a call")
                    # The process is still alive and usable; report this call.
                    raise self._with_output(err)
                payload = frame.get("payload")
                if not isinstance(payload, dict):
                    raise RunnerError(
                        "protocol", "a callback from the sandbox is not a JSON object"
                    )
                if payload.get("kind") not in _READ_KINDS:
                    callbacks += 1
                    if callbacks > MAX_CALLBACKS_PER_REQUEST:
                        raise RunnerError(
                            "protocol",
                            "your code made more than %d calls from one "
                            "function invocation" % MAX_CALLBACKS_PER_REQUEST,
                        )
                else:
                    reads += 1
                    if reads > MAX_READS_PER_REQUEST:
                        raise RunnerError(
                            "protocol",
                            "your code read more than %d rows from one "
                            "function invocation" % MAX_READS_PER_REQUEST,
                        )
                self._answer_callback(rid, payload, on_callback)
        except RunnerError as exc:
            if not hasattr(exc, "output"):  # not a survivable "error" frame
                self._die(exc)
                raise self._with_output(exc) from None
            raise
        except BaseException:
            # Interrupted mid-exchange (e.g. a task time limit, or a callback
            # handler raising BaseException): the channel is out of step now.
            self._die(RunnerError("crashed", "the grading was interrupted"))
            raise

    def _answer_callback(
        self, rid: int, payload: dict[str, Any], on_callback: Callback | None
    ) -> None:
        if on_callback is None:
            reply = {"type": "callback_result", "id": rid, "error": "no callback handler installed"}
        else:
            try:
                result = on_callback(payload)
            except Exception as exc:  # noqa: BLE001 - surfaces in guest code, like in-process
                log.info("callback raised %s: %s", type(exc).__name__, exc)
                reply = {
                    "type": "callback_result",
                    "id": rid,
                    "error": "%s: %s" % (type(exc).__name__, exc),
                }
            else:
                reply = {"type": "callback_result", "id": rid, "result": result}
                try:
                    json.dumps(result, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    log.error("on_callback returned something that is not JSON: %s", exc)
                    reply = {
                        "type": "callback_result",
                        "id": rid,
                        "error": "the grader's answer could not be encoded",
                    }
        self._send(reply)

    def output(self) -> tuple[str, int]:
        self._drain_output()
        return self._out.decode("utf-8", errors="replace"), self._dropped

    # -- internals ---------------------------------------------------------

    def _with_output(self, exc: RunnerError) -> RunnerError:
        try:
            exc.output = self.output()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            exc.output = ("", 0)  # type: ignore[attr-defined]
        return exc

    def _die(self, exc: RunnerError) -> None:
        """Stop the child after an error that ends this grading."""
        self._drain_output()
        if self._dead is None:
            self._dead = exc
        proc = self._proc
        if proc is not None:
            _kill_tree(proc)
        self._drain_output()

    @staticmethod
    def _encode(obj: dict[str, Any]) -> bytes:
        try:
            data = json.dumps(
                obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValueError("request is not JSON-shaped: %s" % exc) from None
        if len(data) > MAX_HOST_FRAME_BYTES:
            raise ValueError("request frame too large (%d bytes)" % len(data))
        return len(data).to_bytes(4, "big") + data

    def _send(self, obj: dict[str, Any] | bytes) -> None:
        view = memoryview(obj if isinstance(obj, bytes) else self._encode(obj))
        fd = self._fds["to_child"]
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                raise self._death_error() from None
            self._wait({fd}, for_write=True)

    def _receive(self, expect: set[str]) -> dict[str, Any]:
        size = int.from_bytes(self._read_exact(4), "big")
        if size > MAX_FRAME_BYTES:
            raise RunnerError(
                "protocol",
                "the sandbox sent an answer of %s; the limit is %s"
                % (_fmt_size(size), _fmt_bytes(MAX_FRAME_BYTES)),
            )
        data = self._read_exact(size)
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise RunnerError(
                "protocol",
                "the sandbox sent something that is not valid JSON "
                "(did your code write to the grader's channel?)",
            ) from None
        if not isinstance(obj, dict) or obj.get("type") not in _GUEST_TYPES:
            raise RunnerError("protocol", "the sandbox sent a message of unknown shape")
        if obj["type"] not in expect:
            raise RunnerError("protocol", "the sandbox sent an unexpected %r message" % obj["type"])
        return obj

    def _read_exact(self, n: int) -> bytes:
        fd = self._fds["from_child"]
        while len(self._inbuf) < n:
            try:
                chunk = os.read(fd, max(65536, n - len(self._inbuf)))
            except BlockingIOError:
                self._wait({fd})
                continue
            if not chunk:
                raise self._death_error()
            self._inbuf += chunk
            if len(self._inbuf) > MAX_FRAME_BYTES + 4 + 65536 * 16:
                raise RunnerError("protocol", "the sandbox sent too much data")
        data = bytes(self._inbuf[:n])
        del self._inbuf[:n]
        return data

    def _wait(self, fds: set[int], for_write: bool = False) -> None:
        """Block until one of ``fds`` is ready, draining output meanwhile and
        charging the time to the guest's wall-clock budget."""
        out_fd = self._fds["out"]
        want = select.POLLOUT if for_write else select.POLLIN
        t0 = time.monotonic()
        try:
            while True:
                if self._kill_reason is not None:
                    raise self._kill_reason
                elapsed = time.monotonic() - t0
                remaining = min(self._budget, self._total_wall - self._total_used) - elapsed
                if remaining <= 0:
                    if self._budget - elapsed <= 0:
                        message = "your code ran past %s of wall time" % _fmt_seconds(
                            self.limits.wall_seconds
                        )
                    else:
                        message = (
                            "your code ran past %s of wall time in total, over all "
                            "the calls of this grading" % _fmt_seconds(self._total_wall)
                        )
                    self._kill_reason = RunnerError("timeout", message)
                    raise self._kill_reason
                # poll, not select: worker processes may hold fds past FD_SETSIZE.
                extra = {} if self._out_eof else {out_fd: select.POLLIN}
                ready = _poll(extra, fds, want, min(remaining, 0.5))
                if out_fd in ready:
                    self._drain_output()
                if ready & fds:
                    return
                if self._proc is None:
                    raise RunnerError("crashed", "the sandbox was closed")
                if _has_exited(self._proc):
                    # Gone: one last look for a final frame, then work out why.
                    if _poll({}, fds, want, 0):
                        return
                    raise self._death_error()
        finally:
            spent = time.monotonic() - t0
            self._budget -= spent
            self._total_used += spent

    def _drain_output(self) -> None:
        fd = self._fds.get("out")
        if fd is None:
            return
        cap = self.limits.output_bytes
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not chunk:
                self._out_eof = True  # every writer is gone: stop polling it
                return
            room = cap - len(self._out)
            if room > 0:
                self._out += chunk[:room]
                self._dropped += max(0, len(chunk) - room)
            else:
                self._dropped += len(chunk)
            if len(self._out) + self._dropped > self._flood_limit and self._kill_reason is None:
                self._kill_reason = RunnerError(
                    "output",
                    "your code printed more than %s (only the first %s are kept), "
                    "so it was stopped" % (_fmt_bytes(self._flood_limit), _fmt_bytes(cap)),
                )
                if self._proc is not None:
                    _kill_tree(self._proc, wait=False)
                return

    def _death_error(self) -> RunnerError:
        """The child closed its channel: work out why."""
        if self._kill_reason is not None:
            return self._kill_reason
        proc = self._proc
        if proc is None:
            return RunnerError("crashed", "the sandbox was closed")
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while not _has_exited(proc):
            if time.monotonic() > deadline:
                # Channel closed but the process lives on (learner closed the fds).
                _kill_tree(proc)
                return RunnerError(
                    "crashed", "your code closed the grader's channel, so the sandbox stopped it"
                )
            time.sleep(0.01)
        _kill_tree(proc)  # the rest of its process group, then reap it
        rc = proc.returncode
        sig = None
        if rc < 0:
            sig = -rc
        elif self.jailed and rc > 128:
            sig = rc - 128  # bubblewrap reports death by signal N as 128+N
        total_cpu = self.limits.cpu_seconds * GRADING_TOTAL_FACTOR
        this_call = float(self.limits.wall_seconds) - self._budget
        # The guest's CPU time cannot exceed the time we spent waiting on it
        # (the margin covers clock granularity).
        if self._total_used >= total_cpu - 0.25 and sig in (signal.SIGXCPU, signal.SIGKILL):
            return RunnerError(
                "cpu",
                "your code used more than %s of CPU time in total, over "
                "all the calls of this grading" % _fmt_seconds(total_cpu),
            )
        # SIGKILL is the hard limit, one second past the soft one (SIGXCPU can be caught).
        if sig == signal.SIGXCPU or (
            sig == signal.SIGKILL and this_call >= self.limits.cpu_seconds
        ):
            return RunnerError(
                "cpu",
                "your code used more than %s of CPU time" % _fmt_seconds(self.limits.cpu_seconds),
            )
        if sig == signal.SIGXFSZ:
            return RunnerError(
                "crashed", "your code wrote a file larger than %d MiB" % self.limits.file_size_mb
            )
        if sig is not None:
            try:
                name = _SIGNAL_NAMES.get(signal.Signals(sig), signal.Signals(sig).name)
            except ValueError:
                name = "unknown signal"
            return RunnerError("crashed", "your process died (signal %d, %s)" % (sig, name))
        return RunnerError("crashed", "your process exited (exit code %d) before answering" % rc)


def _short(value: Any, limit: int = 500) -> str:
    if not isinstance(value, str):
        return ""
    return value if len(value) <= limit else value[:limit] + "..."


def _reject_constant(name: str) -> Any:
    raise ValueError("non-standard JSON constant %s" % name)


def _poll(extra: dict[int, int], fds: set[int], events: int, timeout: float) -> set[int]:
    """The fds (of ``extra`` and ``fds``) that are ready, or hung up."""
    poller = select.poll()
    for fd, ev in extra.items():
        poller.register(fd, ev)
    for fd in fds:
        poller.register(fd, events)
    return {fd for fd, _ in poller.poll(max(0, int(timeout * 1000)))}


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Has the child exited?  Without reaping it: until it is reaped its pid
    (and so its process group id) cannot be reused, so killpg stays safe."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _kill_tree(proc: subprocess.Popen[bytes], wait: bool = True) -> None:
    """SIGKILL the child's process group, then reap the child.  In the jail
    the child is bwrap: killing it takes down the PID namespace's init
    (--die-with-parent), and with it every process inside, daemons included."""
    if proc.returncode is None:  # not reaped yet: the pgid is still ours
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if wait:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("jail process %s did not exit after SIGKILL", proc.pid)
