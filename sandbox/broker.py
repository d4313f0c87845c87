"""The message broker: topics by event type, at-least-once delivery.

Duplicates and delays are faults; a crash before the acknowledgement means
redelivery after the visibility timeout; a handler that raises is retried with
backoff until the retry cap, then the message goes to the dead-letter queue.
Consumers are concurrent by default; an ``ordered`` consumer handles one
message at a time, in order (so a poison message blocks the ones behind it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the world owns the broker
    from .world import World

LATENCY = 10
VISIBILITY_TIMEOUT = 300
DEFAULT_MAX_ATTEMPTS = 5


class Subscription:
    def __init__(self, service: str, fn: str, ordered: bool) -> None:
        self.service = service
        self.fn = fn
        self.ordered = ordered
        self.queue: list[dict[str, Any]] = []
        self.busy = False
        self.name = f"{service}.{fn}"


class Broker:
    def __init__(self, world: World) -> None:
        self.world = world
        self.subs: dict[str, list[Subscription]] = {}
        self.deliveries: dict[tuple[str, str], int] = {}
        self.published: list[dict[str, Any]] = []
        self.handled: list[
            tuple[str, dict[str, Any]]
        ] = []  # (subscription name, message) acknowledged
        self.dlq: list[tuple[str, dict[str, Any], str]] = []
        self.max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
        # Message type -> ms: the fault ``late_answer`` holds a message of that type back for longer
        # than this (a scenario sets its saga timeout here), so it arrives after the timeout decided.
        self.late_after: dict[str, int] = {}

    def subscribe(self, type: str, service: str, fn: str, *, ordered: bool = False) -> None:
        self.subs.setdefault(type, []).append(Subscription(service, fn, ordered))

    def publish(self, source: str, msg: dict[str, Any]) -> None:
        w = self.world
        self.published.append(msg)
        if w.tracing:
            w.log("publish", source, f"{msg['type']} {_short(msg['data'])}", msg)
        for sub in self.subs.get(msg["type"], []):
            delay = LATENCY
            if w.plan.fires("delay", f"{msg['id']}>{sub.name}", w.sched.now):
                delay += w.rng.randint(100, 600)
                w.log("delay", sub.service, f"{msg['type']} delayed {delay} ms", msg)
            late = self.late_after.get(msg["type"])
            if late is not None and w.plan.fires(
                "late_answer", f"{msg['id']}>{sub.name}", w.sched.now
            ):
                delay += late + w.rng.randint(100, 600)
                w.log(
                    "delay",
                    sub.service,
                    f"{msg['type']} arrives late: in {delay} ms, after the saga's timeout",
                    msg,
                )
            if sub.ordered:
                sub.queue.append(msg)
                self._pump(sub, delay)
            else:
                w.sched.after(delay, self._deliver, sub, msg, 0)

    def _pump(self, sub: Subscription, delay: int = LATENCY) -> None:
        if sub.queue and not sub.busy:
            sub.busy = True
            self.world.sched.after(delay, self._deliver, sub, sub.queue[0], 0)

    def _done(self, sub: Subscription) -> None:
        if sub.ordered:
            sub.queue.pop(0)
            sub.busy = False
            self._pump(sub)

    def _deliver(self, sub: Subscription, msg: dict[str, Any], errors: int) -> None:
        w = self.world
        back = w.down_until(sub.service) if w.outages else None  # (no outage: never down)
        if back is not None:
            w.log(
                "blocked",
                sub.service,
                f"{sub.service} is down; {msg['type']} waits until t={back}",
                msg,
            )
            w.sched.at(back, self._deliver, sub, msg, errors)
            return
        key = (msg["id"], sub.name)
        n = self.deliveries[key] = self.deliveries.get(key, 0) + 1
        site = f"{sub.name}:{msg['id']}#{n}"
        if w.plan.fires("duplicate", site, w.sched.now):
            w.log("duplicate", sub.service, f"the broker will deliver {msg['type']} again", msg)
            if sub.ordered:
                sub.queue.insert(1, msg)
            else:
                w.sched.after(LATENCY + w.rng.randint(1, 60), self._deliver, sub, msg, errors)
        if w.tracing:
            w.log("deliver", sub.service, f"{msg['type']} -> {sub.fn}() (delivery {n})", msg)
        w.scenario.observe(w, sub, msg)
        event = {
            "id": msg["id"],
            "type": msg["type"],
            "data": msg["data"],
            "correlation_id": msg["correlation_id"],
            "source": msg.get("source"),
            "attempt": n,
        }
        resp = w.invoke(sub.service, sub.fn, site, event=event)
        if resp["crashed"] or resp.get("conflict"):
            w.log(
                "retry",
                sub.service,
                f"not acknowledged: redelivery after {VISIBILITY_TIMEOUT} ms",
                msg,
            )
            w.sched.after(VISIBILITY_TIMEOUT, self._deliver, sub, msg, errors)
        elif resp["retry_after"] is not None:
            w.log("retry", sub.service, f"retry later requested: {resp['retry_after']} ms", msg)
            w.sched.after(max(1, resp["retry_after"]), self._deliver, sub, msg, errors)
        elif resp["poison"] is not None:
            self._dead_letter(sub, msg, f"rejected as poison: {resp['poison']}")
        elif not resp["ok"]:
            errors += 1
            if self.max_attempts is not None and errors >= self.max_attempts:
                self._dead_letter(sub, msg, f"failed {errors} times: {resp['error']}")
            else:
                backoff = min(100 * 2**errors, 3000)
                w.log(
                    "retry",
                    sub.service,
                    f"handler failed (attempt {errors}); retry in {backoff} ms",
                    msg,
                )
                w.sched.after(backoff, self._deliver, sub, msg, errors)
        else:
            self.handled.append((sub.name, msg))
            self._done(sub)

    def _dead_letter(self, sub: Subscription, msg: dict[str, Any], why: str) -> None:
        self.dlq.append((sub.name, msg, why))
        self.world.log(
            "dlq", sub.service, f"{msg['type']} moved to the dead-letter queue: {why}", msg
        )
        self._done(sub)


def _short(data: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= 80 else text[:77] + "..."
