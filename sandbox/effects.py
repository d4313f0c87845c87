"""Validation of what the guest sends back. Everything from the guest is untrusted:
shapes, types and sizes are checked and copied here; anything odd stops grading
with a message that names the problem."""

from __future__ import annotations

from typing import Any, NoReturn

MAX_STRING = 4000
MAX_NODES = 20000
MAX_EFFECTS = 200
MAX_NAME = 200
WRITE_OPS = ("insert", "update", "put", "delete")


class GuestProtocolError(Exception):
    """The guest answered with something that is not a valid answer."""


def _fail(where: str, problem: str) -> NoReturn:
    raise GuestProtocolError(f"invalid answer from the sandbox: {where} {problem}")


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def clean(value: Any, where: str, budget: _Budget | None = None, depth: int = 0) -> Any:
    """A checked deep copy of a JSON value."""
    budget = budget or _Budget()
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        _fail(where, "is too large")
    if depth > 24:
        _fail(where, "is nested too deeply")
    # Fast paths for the exact JSON types (what a decoded frame holds); anything
    # else (subclasses from in-process trusted code) takes the general checks below.
    t = type(value)
    if t is str:
        if len(value) > MAX_STRING:
            _fail(where, f"holds a string longer than {MAX_STRING} characters")
        return value
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str or len(k) > MAX_NAME:
                if not isinstance(k, str) or len(k) > MAX_NAME:
                    _fail(where, "has a key that is not a short string")
            out[k] = clean(v, where, budget, depth + 1)
        return out
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > 2**53:
            _fail(where, "holds an integer that is too large")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            _fail(where, "holds a non-finite number")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            _fail(where, f"holds a string longer than {MAX_STRING} characters")
        return value
    if isinstance(value, list):
        return [clean(v, where, budget, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or len(k) > MAX_NAME:
                _fail(where, "has a key that is not a short string")
            out[k] = clean(v, where, budget, depth + 1)
        return out
    _fail(where, f"holds a {type(value).__name__}, which is not JSON")


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        _fail(where, "must be a non-empty string of at most 200 characters")
    return value


def _opt_str(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME:
        _fail(where, "must be a string of at most 200 characters or None")
    return value


def _dict(value: object, where: str, budget: _Budget) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, "must be a dict")
    copy: dict[str, Any] = clean(value, where, budget)
    return copy


def _message(item: object, where: str, budget: _Budget) -> dict[str, Any]:
    if not isinstance(item, dict):
        _fail(where, "must be a dict")
    return {
        "type": _name(item.get("type"), where + ".type"),
        "data": _dict(item.get("data"), where + ".data", budget),
        "correlation_id": _opt_str(item.get("correlation_id"), where + ".correlation_id"),
    }


def _effect(effect: object, where: str, budget: _Budget) -> dict[str, Any]:
    if not isinstance(effect, dict):
        _fail(where, "must be a dict")
    kind = effect.get("kind")
    if kind == "commit":
        writes = effect.get("writes")
        outbox = effect.get("outbox")
        if not isinstance(writes, list) or not isinstance(outbox, list):
            _fail(where, "must have lists 'writes' and 'outbox'")
        if len(writes) > MAX_EFFECTS or len(outbox) > MAX_EFFECTS:
            _fail(where, "has too many writes")
        clean_writes: list[list[Any]] = []
        for j, w in enumerate(writes):
            w_where = f"{where}.writes[{j}]"
            if not isinstance(w, list) or len(w) != 4 or w[0] not in WRITE_OPS:
                _fail(
                    w_where, "must be [op, table, key, row] with op one of " + ", ".join(WRITE_OPS)
                )
            op, table, key, row = w
            row = None if op == "delete" else _dict(row, w_where + ".row", budget)
            clean_writes.append(
                [op, _name(table, w_where + ".table"), _name(key, w_where + ".key"), row]
            )
        return {
            "kind": "commit",
            "writes": clean_writes,
            "outbox": [_message(m, f"{where}.outbox[{j}]", budget) for j, m in enumerate(outbox)],
        }
    if kind == "publish":
        return {"kind": "publish", **_message(effect, where, budget)}
    if kind == "call":
        return {
            "kind": "call",
            "service": _name(effect.get("service"), where + ".service"),
            "op": _name(effect.get("op"), where + ".op"),
        }
    _fail(where + ".kind", f"{kind!r} is not a known effect kind")


def effect_list(raw: object, where: str, budget: _Budget | None = None) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_EFFECTS:
        _fail(where, f"must be a list of at most {MAX_EFFECTS} effects")
    budget = budget or _Budget()
    return [_effect(e, f"{where}[{i}]", budget) for i, e in enumerate(raw)]


def call_response(resp: object, budget: _Budget | None = None) -> dict[str, Any]:
    """``budget`` is shared by everything one invocation sends (its calls and its answer), so what the
    simulator checks and copies for one invocation is bounded, however it is split up."""
    if not isinstance(resp, dict):
        _fail("response", "must be a dict")
    budget = budget or _Budget()
    effects = resp.get("effects")
    if not isinstance(effects, list):
        _fail("response.effects", "must be a list")
    if len(effects) > MAX_EFFECTS:
        _fail("response.effects", f"has more than {MAX_EFFECTS} effects")
    ok = resp.get("ok")
    crashed = resp.get("crashed")
    if not isinstance(ok, bool) or not isinstance(crashed, bool):
        _fail("response", "must have booleans 'ok' and 'crashed'")
    retry_after = resp.get("retry_after")
    if retry_after is not None and (
        not isinstance(retry_after, int)
        or isinstance(retry_after, bool)
        or not 0 <= retry_after <= 10**7
    ):
        _fail("response.retry_after", "must be None or a number of ms")
    error = resp.get("error")
    if error is not None and not isinstance(error, str):
        _fail("response.error", "must be a string or None")
    tb = resp.get("traceback") or ""
    poison = resp.get("poison")
    if not isinstance(tb, str) or (poison is not None and not isinstance(poison, str)):
        _fail("response", "has a malformed traceback or poison field")
    return {
        "ok": ok,
        "crashed": crashed,
        "error": (error or "")[:500] or None,
        "traceback": tb[:1000],
        "retry_after": retry_after,
        "poison": poison[:300] if poison else None,
        "value": clean(resp.get("value"), "response.value", budget),
        "effects": [_effect(e, f"effects[{i}]", budget) for i, e in enumerate(effects)],
    }


def pure_response(resp: object) -> dict[str, Any]:
    if not isinstance(resp, dict) or not isinstance(resp.get("ok"), bool):
        _fail("response", "must be a dict with a boolean 'ok'")
    error = resp.get("error")
    if error is not None and not isinstance(error, str):
        _fail("response.error", "must be a string or None")
    return {
        "ok": resp["ok"],
        "error": (error or "")[:500] or None,
        "traceback": str(resp.get("traceback") or "")[:1000],
        "value": clean(resp.get("value"), "response.value"),
    }


def describe_response(resp: object) -> dict[str, Any]:
    if not isinstance(resp, dict) or not isinstance(resp.get("functions"), list):
        _fail("response", "must be a dict with a list 'functions'")
    functions = [f for f in resp["functions"] if isinstance(f, str) and len(f) <= MAX_NAME][:500]
    consts = resp.get("constants") or {}
    if not isinstance(consts, dict):
        _fail("response.constants", "must be a dict")
    return {"functions": functions, "constants": clean(consts, "response.constants")}
