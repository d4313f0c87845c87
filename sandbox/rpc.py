"""RPC between simulated services, with timeouts and idempotency keys.

A call can time out because the request was lost (the server never acted), the
reply was lost (the server acted!), the server is down, or it crashed. Calls
take no virtual time; retries are the caller's business.

Services listed in a scenario's ``idempotent_services`` get the platform's
idempotency layer: a key's stored result is replayed, the same key with a
different payload is rejected, a request arriving while one with the same key
is in flight gets a conflict, and keys expire after ``KEY_TTL`` ms.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import effects

if TYPE_CHECKING:  # the world owns the RPC layer
    from .world import World

KEY_TTL = 30_000
# Operations that undo a step are drawn as compensations in the trace.
COMPENSATIONS = {
    "release": "compensate",
    "refund": "compensate",
    "cancel": "compensate",
    "void": "compensate",
}
BUCKET_MS = 100


class Rpc:
    def __init__(self, world: World) -> None:
        self.world = world
        self.counts: dict[str, int] = {}
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}
        self.load: dict[str, dict[int, int]] = {}
        self.calls: list[dict[str, Any]] = []

    def from_guest(
        self,
        caller: str,
        caller_site: str,
        payload: object,
        budget: effects._Budget | None = None,
    ) -> dict[str, Any]:
        if not isinstance(payload, dict) or payload.get("kind") != "call":
            raise effects.GuestProtocolError("invalid callback from the sandbox: not a call")
        service = effects._name(payload.get("service"), "call.service")
        op = effects._name(payload.get("op"), "call.op")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise effects.GuestProtocolError(
                "invalid callback from the sandbox: call.data must be a dict"
            )
        data = effects.clean(data, "call.data", budget)
        key = effects._opt_str(payload.get("idempotency_key"), "call.idempotency_key")
        corr = effects._opt_str(payload.get("correlation_id"), "call.correlation_id")
        n = self.counts[caller_site] = self.counts.get(caller_site, 0) + 1
        return self.call(caller, f"{caller_site}>{service}.{op}#{n}", service, op, data, key, corr)

    def call(
        self,
        caller: str,
        site: str,
        service: str,
        op: str,
        data: dict[str, Any],
        key: str | None = None,
        corr: str | None = None,
    ) -> dict[str, Any]:
        w = self.world
        if ">" not in site:  # a trusted caller: name the callee in the site too
            site = f"{site}>{service}.{op}"
        self.calls.append(
            {
                "caller": caller,
                "service": service,
                "op": op,
                "data": data,
                "idempotency_key": key,
                "correlation_id": corr,
                "t": w.sched.now,
            }
        )
        tag = {"correlation_id": corr}
        kinds = {**COMPENSATIONS, **getattr(w.scenario, "trace_kinds", {})}
        w.log(
            kinds.get(op, "call"),
            caller,
            f"{op}({_short(data)})" + (f" key={key}" if key else ""),
            tag,
            to=service,
        )
        fn = w.scenario.rpc_ops.get((service, op))
        if fn is None:
            return {"status": "error", "message": f"{service} has no operation {op!r}"}
        bucket = self.load.setdefault(service, {})
        bucket[w.sched.now // BUCKET_MS] = bucket.get(w.sched.now // BUCKET_MS, 0) + 1
        if w.down_until(service) is not None:
            w.log("timeout", caller, f"{service} is down: {op} timed out", tag)
            return {"status": "timeout"}
        if w.scenario.overloaded(w, service):
            w.log("timeout", caller, f"{service} is overloaded: {op} timed out", tag)
            return {"status": "timeout"}
        if w.plan.fires("request_lost", site, w.sched.now):
            w.log("timeout", caller, f"request lost: {service} never saw {op}; timed out", tag)
            return {"status": "timeout"}
        platform = key is not None and service in w.scenario.idempotent_services
        fingerprint = json.dumps([op, data], sort_keys=True)
        if platform and key is not None:  # (platform implies a key)
            record = self.keys.get((service, key))
            if record and record["expires"] <= w.sched.now:
                w.log("expired", service, f"idempotency key {key} expired; handling as new", tag)
                record = None
            if record:
                if record["fingerprint"] != fingerprint:
                    w.log(
                        "reply",
                        service,
                        f"rejected: key {key} was used with a different payload",
                        tag,
                        to=caller,
                    )
                    return {
                        "status": "rejected",
                        "message": "idempotency key reused with a different payload",
                    }
                return self._reply(caller, site, service, op, record["result"], tag, replayed=True)
        if callable(fn):  # a trivial trusted operation, answered directly
            return self._reply(caller, site, service, op, fn(w, data), tag)
        request = {
            "op": op,
            "data": data,
            "idempotency_key": key,
            "correlation_id": corr,
            "caller": caller,
        }
        before = (
            w.stores[service].snapshot() if w.plan.fires("concurrent", site, w.sched.now) else None
        )
        resp = w.invoke(service, fn, site, request=request)
        if before is not None:
            if platform:
                w.log(
                    "conflict",
                    service,
                    f"a concurrent copy of {op} with key {key} got 409 Conflict",
                    tag,
                )
            else:
                twin = w.invoke(service, fn, site + "+twin", request=request, snapshot=before)
                w.log(
                    "conflict" if twin.get("conflict") else "duplicate",
                    service,
                    f"a concurrent copy of {op} "
                    + (
                        "was rejected by the store" if twin.get("conflict") else "was processed too"
                    ),
                    tag,
                )
        if resp["crashed"] or resp.get("conflict"):
            w.log("timeout", caller, f"{service} crashed while handling {op}; timed out", tag)
            return {"status": "timeout"}
        if not resp["ok"]:
            return {"status": "error", "message": resp["error"]}
        if resp["retry_after"] is not None or resp["poison"] is not None:
            return {
                "status": "error",
                "message": "RetryLater and Poison only make sense in message handlers",
            }
        result = resp["value"] if isinstance(resp["value"], dict) else {"value": resp["value"]}
        if platform and key is not None:
            self.keys[(service, key)] = {
                "fingerprint": fingerprint,
                "result": result,
                "expires": w.sched.now + KEY_TTL,
            }
        return self._reply(caller, site, service, op, result, tag)

    def _reply(
        self,
        caller: str,
        site: str,
        service: str,
        op: str,
        result: dict[str, Any],
        tag: dict[str, Any],
        replayed: bool = False,
    ) -> dict[str, Any]:
        w = self.world
        if w.plan.fires("reply_lost", site, w.sched.now):
            w.log("timeout", caller, f"{service} did {op} but the reply was lost; timed out", tag)
            return {"status": "timeout"}
        kind = "vote" if getattr(w.scenario, "trace_kinds", {}).get(op) == "prepare" else "reply"
        w.log(
            kind,
            service,
            ("replayed stored result " if replayed else "") + _short(result),
            tag,
            to=caller,
        )
        return {"status": "ok", "result": result}

    def load_series(self, service: str) -> list[list[int]]:
        return [[b * BUCKET_MS, n] for b, n in sorted(self.load.get(service, {}).items())]


def _short(data: object) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items()) if isinstance(data, dict) else str(data)
    return text if len(text) <= 80 else text[:77] + "..."
