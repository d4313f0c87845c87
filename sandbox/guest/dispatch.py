"""Guest-side dispatcher: runs one learner function per request and returns what it did.

Runs wherever learner code runs (inside the jail, or in-process for trusted
code). Flat and stdlib-only: it imports nothing from the ``sandbox`` package.

Requests (all JSON):
  {"op": "describe"}
      -> {"functions": [names of top-level callables], "constants": {UPPER_CASE: value}}
  {"op": "call", "fn", "service", "now", "invocation", "store",
   "event": {...} | "request": {...}}
      (without "store", the guest asks for what it reads with callbacks: {"kind": "read",
      "table", "key"}, {"kind": "scan", "table"}, {"kind": "now"} if "now" is left out, and
      {"kind": "input", "field"} for "invocation" and the event's "id", "source", "attempt")
      -> {"ok", "error", "traceback", "crashed", "effects", "value", "retry_after", "poison"}
  {"op": "pure", "fn", "args": [...]}           (a plain function of JSON values)
      -> {"ok", "error", "traceback", "value"}
  {"op": "batch", "requests": [...]}            -> {"results": [...]}
"""

from __future__ import annotations

import traceback

import saga_api

# The guest imports nothing it does not need (typing included): annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Json = dict[str, Any]  # a JSON object this side builds
    # A request as the simulator sent it: JSON whose shape is the simulator's contract (documented
    # above), read with .get() so that a missing field reads as None, as it always has.
    Incoming = Any
    Callback = Callable[[Json], Json]

_API_FILES = ("dispatch.py", "saga_api.py")


def handle(namespace: dict[str, object], request: Incoming, callback: Callback) -> Json:
    op = request.get("op")
    if op == "batch":
        return {"results": [handle(namespace, r, callback) for r in request.get("requests", [])]}
    if op == "describe":
        return _describe(namespace)
    if op == "pure":
        return _pure(namespace, request)
    if op == "call":
        return _call(namespace, request, callback)
    return {"ok": False, "error": f"unknown op {op!r}", "traceback": ""}


def _describe(namespace: dict[str, object]) -> Json:
    functions = sorted(
        k
        for k, v in namespace.items()
        if callable(v) and not k.startswith("_") and not isinstance(v, type)
    )
    constants: Json = {}
    for k, v in namespace.items():
        if k.isupper() and isinstance(v, (int, float, str, bool, type(None))):
            constants[k] = v
    return {"functions": functions, "constants": constants}


def _lookup(namespace: dict[str, object], name: str) -> Callable[..., object]:
    fn = namespace.get(name)
    if not callable(fn):
        raise LookupError(f"your code must define a function named {name}()")
    return fn


def _jsonable(value: object, depth: int = 0) -> Any:
    if depth > 20:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out: Json = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"dict key {k!r} is not a string")
            out[k] = _jsonable(v, depth + 1)
        return out
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and isinstance(value, saga_api.Step):
        return _jsonable(to_json(), depth + 1)
    raise ValueError(
        f"a {type(value).__name__} cannot be sent back (use dicts, lists, str, int, float, bool, None)"
    )


def _short_traceback(exc: BaseException) -> str:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.endswith(_API_FILES)
    ]
    lines = [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-4:]]
    return "\n".join(lines)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _pure(namespace: dict[str, object], request: Incoming) -> Json:
    try:
        fn = _lookup(namespace, request.get("fn"))
        value = _jsonable(fn(*request.get("args", [])))
        return {"ok": True, "error": None, "traceback": "", "value": value}
    except Exception as exc:
        return {
            "ok": False,
            "error": _error(exc),
            "traceback": _short_traceback(exc),
            "value": None,
        }


def _call(namespace: dict[str, object], request: Incoming, callback: Callback) -> Json:
    recorder = saga_api._Recorder()
    # Without "store" in the request, the guest asks for the rows it reads, and for the time,
    # the invocation id and the event's id, source and attempt if the request leaves them out.
    lazy = "store" not in request
    ask = saga_api._ASK if lazy else None
    ctx = saga_api.Context(
        request.get("service"),
        request.get("now", None if lazy else 0),
        None if lazy else (request.get("store") or {}),
        recorder,
        callback,
        request.get("invocation", ask or "0"),
    )
    arg: saga_api.Event | saga_api.Request
    if "event" in request:
        e = request["event"]
        arg = saga_api.Event(
            e.get("id", ask),
            e.get("type"),
            e.get("data"),
            e.get("correlation_id"),
            e.get("source", ask),
            e.get("attempt", ask or 1),
        )
        arg._asker = ctx.db._ask
    else:
        r: Incoming = request.get("request") or {}
        arg = saga_api.Request(
            r.get("op"),
            r.get("data"),
            r.get("idempotency_key"),
            r.get("correlation_id"),
            r.get("caller"),
        )
    out: Json = {
        "ok": True,
        "error": None,
        "traceback": "",
        "crashed": False,
        "effects": recorder.effects,
        "value": None,
        "retry_after": None,
        "poison": None,
    }
    try:
        fn = _lookup(namespace, request.get("fn"))
        out["value"] = _jsonable(fn(arg, ctx))
    except saga_api._Crash:
        out["crashed"] = True
    except saga_api.RetryLater as exc:
        out["retry_after"] = exc.after_ms
    except saga_api.Poison as exc:
        out["poison"] = str(exc)[:300] or "poison"
    except Exception as exc:
        out.update(ok=False, error=_error(exc), traceback=_short_traceback(exc))
    return out
