"""The narrow interface between the trusted simulator and learner code.

The simulator never calls learner functions directly. It sends a JSON-shaped
request to a runner and gets a JSON-shaped response back; the runner may be
in-process (trusted reference code, lesson playgrounds, tests) or a jailed
child process (learner submissions, see ``sandbox.jail``). Both execute the
same guest-side dispatcher (``sandbox/guest/dispatch.py``), so the verdict is
computed identically whichever runner is used, and always on this side.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

GUEST_DIR = Path(__file__).resolve().parent / "guest"

# redirect_stdout swaps the process-wide sys.stdout: in-process runs (lesson playgrounds
# in a threaded web server, for instance) take turns, one request at a time. Reentrant,
# because a trusted runner may be called from inside another runner's callback.
_STDOUT_LOCK = threading.RLock()

# A callback lets guest code ask the trusted side something mid-call (an RPC
# to another simulated service, for instance) and wait for the answer.
Callback = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_mb: int = 256
    processes: int = 32
    output_bytes: int = 64 * 1024
    open_files: int = 64
    file_size_mb: int = 8


# Hard ceilings: per-exercise limits are clamped to these.
MAX_LIMITS = Limits(
    cpu_seconds=20,
    wall_seconds=30.0,
    memory_mb=512,
    processes=64,
    output_bytes=256 * 1024,
    open_files=128,
    file_size_mb=16,
)


def clamp_limits(limits: Limits) -> Limits:
    return Limits(
        **{
            name: min(getattr(limits, name), getattr(MAX_LIMITS, name))
            for name in Limits.__dataclass_fields__
        }
    )


class RunnerError(Exception):
    """The learner's code could not be run to an answer.

    ``kind`` is one of: ``syntax`` (does not compile), ``timeout`` (wall
    clock), ``cpu``, ``memory``, ``output`` (too much printed), ``crashed``
    (the process died), ``protocol`` (malformed or oversized answer),
    ``jail_unavailable`` (refused to run: no usable jail).
    ``message`` is written for the learner.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class Runner(Protocol):
    def request(
        self, request: dict[str, Any], on_callback: Callback | None = None
    ) -> dict[str, Any]: ...

    def output(self) -> tuple[str, int]:
        """What learner code printed: (kept text, bytes dropped past the cap)."""
        ...

    def close(self) -> None: ...


# Makes the runner for one grading: (source, limits) -> Runner (InProcessRunner, JailRunner).
RunnerFactory = Callable[[str, Limits], Runner]


Dispatch = Callable[[dict[str, object], Any, Callback], dict[str, Any]]
_DISPATCH: list[Dispatch] = []  # the guest dispatcher's ``handle``, once imported


def _load_guest_dispatch() -> Dispatch:
    """The guest dispatcher's ``handle``."""
    if _DISPATCH:
        return _DISPATCH[0]
    if str(GUEST_DIR) not in sys.path:
        sys.path.insert(0, str(GUEST_DIR))
    import dispatch  # noqa: E402  (guest modules are flat, stdlib-only)

    _DISPATCH.append(dispatch.handle)
    return dispatch.handle


@dataclass
class InProcessRunner:
    """Runs *trusted* code (reference solutions, playground variants) in this
    process. Never use it for learner submissions."""

    source: str
    limits: Limits = field(default_factory=Limits)
    # False only for the scenario worlds' own participants (stateless trusted code, many calls).
    fresh: bool = True
    _code: Any = field(init=False, default=None)
    _namespace: dict[str, Any] = field(init=False, default_factory=dict)
    _out: io.StringIO = field(init=False, default_factory=io.StringIO)

    def __post_init__(self) -> None:
        try:
            self._code = compile(self.source, "<solution>", "exec")
        except SyntaxError as exc:
            raise RunnerError("syntax", f"line {exc.lineno}: {exc.msg}") from None
        if str(GUEST_DIR) not in sys.path:  # so trusted sources can ``import saga_api``
            sys.path.insert(0, str(GUEST_DIR))
        self._namespace = self._fresh()

    def _fresh(self) -> dict[str, Any]:
        # Like the jail: every request sees a freshly loaded module (globals are not durable).
        namespace = {"__name__": "solution"}
        with _STDOUT_LOCK, contextlib.redirect_stdout(self._out):
            exec(self._code, namespace)
        return namespace

    def request(
        self, request: dict[str, Any], on_callback: Callback | None = None
    ) -> dict[str, Any]:
        handle = _load_guest_dispatch()
        # What contextlib.redirect_stdout does, inline (this runs for every trusted call), around
        # loading the module afresh and running the function, as _fresh() and handle() did apart.
        with _STDOUT_LOCK:
            saved, sys.stdout = sys.stdout, self._out
            try:
                namespace = self._namespace
                if self.fresh:
                    namespace = {"__name__": "solution"}
                    exec(self._code, namespace)
                return handle(namespace, request, on_callback or _no_callback)
            finally:
                sys.stdout = saved

    def output(self) -> tuple[str, int]:
        text = self._out.getvalue()
        cap = self.limits.output_bytes
        return text[:cap], max(0, len(text.encode()) - cap)

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _no_callback(payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("no callback handler installed")
