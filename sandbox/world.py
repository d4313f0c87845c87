"""One simulated run: services with stores, the broker, the relay, RPC, the clock,
the fault plan and the trace, and the single place where guest answers are
validated and applied."""
from __future__ import annotations

import functools
import hashlib
import json

from . import effects
from .broker import Broker
from .clock import Scheduler
from .outbox import Relay
from .rng import world_rng
from .rpc import Rpc
from .store import Store
from .trace import Trace

HORIZON = 60_000      # the consistency window, in virtual ms
MAX_STEPS = 20_000
MAX_ROWS = 5_000      # per service, outbox included: a store is small in these worlds
MAX_ROUND_TRIPS = 4_000   # learner requests + callbacks in one run (a reference needs well under 100)
# == json.dumps(x, sort_keys=True, separators=(",", ":")), without building an encoder per call.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


class RunExhausted(Exception):
    """The run used up its budget of guest round trips (e.g. a RetryLater(0) loop)."""


class World:
    def __init__(self, scenario, learner, trusted, plan, seed: int, cache: dict | None = None,
                 constants: dict | None = None, tracing: bool = True) -> None:
        self.scenario = scenario
        self.learner = learner
        self.trusted = trusted
        self.plan = plan
        self.seed = seed
        self.cache = cache
        self.constants = constants or {}
        self.rng = world_rng(seed)
        self.sched = Scheduler()
        self.trace = Trace()
        # False while searching for a failing schedule: nothing reads the trace during a run, and
        # a failing schedule is replayed (with its trace) before it is reported.
        self.tracing = tracing
        self.stores = {name: Store(name) for name in scenario.lanes}
        self.broker = Broker(self)
        self.relay = Relay(self)
        self.rpc = Rpc(self)
        self.outages: dict[str, list[tuple[int, int]]] = {}
        self.notes: dict[str, list] = {}
        self.errors: list[str] = []
        self.invocations = 0
        self.round_trips = 0
        self.finished = False
        self.exhausted = False

    @property
    def now(self) -> int:
        return self.sched.now

    def note(self, key: str, value) -> None:
        self.notes.setdefault(key, []).append(value)

    def log(self, kind: str, service: str, detail: str, msg: dict | None = None, to: str | None = None) -> None:
        if not self.tracing:
            return
        msg = msg or {}
        self.trace.add(self.now, service, kind, detail, message_id=msg.get("id"),
                       correlation_id=msg.get("correlation_id"), to=to)

    def down_until(self, service: str) -> int | None:
        for start, end in self.outages.get(service, ()):
            if start <= self.now < end:
                return end
        return None

    def run(self) -> None:
        try:
            self.finished = self.sched.run(HORIZON, MAX_STEPS)
        except RunExhausted:
            self.finished, self.exhausted = False, True
            self.log("blocked", self.scenario.lanes[0], f"simulation stopped after {self.round_trips} calls "
                                                       f"into your code: it never settles")

    # -- talking to the guest ---------------------------------------------------

    def guest(self, fn: str, request: dict, on_callback=None, cache: bool = True) -> dict:
        """One guest request. Learner answers are cached as *tapes*: for a request and the
        answers its callbacks got so far, what the guest did next (another callback, or its final
        answer). A cached run replays the callbacks live against this world and only goes back to
        the guest when an answer differs from every recorded one; the guest then re-runs with the
        answers it already got scripted (learner code is a deterministic function of its inputs;
        module globals are not durable)."""
        runner = self.learner if fn in self.scenario.functions else self.trusted
        if runner is self.learner and self.round_trips >= MAX_ROUND_TRIPS:
            raise RunExhausted()
        live = on_callback or (lambda payload: {"status": "error", "message": "no calls here"})
        if not (cache and self.cache is not None and runner is self.learner):
            self.round_trips += runner is self.learner
            return runner.request(request, live)
        key = _canonical(request)
        answers: list[dict] = []

        def tape_key(n: int) -> tuple[str, str]:
            return key, (_canonical(answers[:n]) if n else "[]")

        while True:
            step = self.cache.get(tape_key(len(answers)))
            if step is None:
                break
            if step[0] == "done":
                return step[1]
            answers.append(live(step[1]))
        known = len(answers)
        seen = [0]
        diverged = []

        def scripted(payload: dict) -> dict:
            i = seen[0]
            seen[0] += 1
            if i < known:
                if self.cache[tape_key(i)][1] != payload:
                    diverged.append(i)
                    return {"status": "error", "message": "rejected by the simulator"}
                return answers[i]                  # already executed live above
            self.cache[tape_key(i)] = ("call", payload)
            answers.append(live(payload))
            return answers[-1]

        self.round_trips += 1
        answer = runner.request(request, scripted)
        if diverged:
            raise effects.GuestProtocolError(
                f"{fn}() did something different for exactly the same input (call {diverged[0] + 1}): keep "
                f"state in ctx.db, not in module globals, and do not use randomness or the clock")
        self.cache[tape_key(len(answers))] = ("done", answer)
        return answer

    def invoke(self, service: str, fn: str, site: str, *, event: dict | None = None,
               request: dict | None = None, snapshot: dict | None = None) -> dict:
        """Run a guest function in ``service`` and apply what it did. Returns the checked answer
        plus ``conflict`` (a commit the store rejected)."""
        store = self.stores[service]
        crash_at = self.plan.crash_point(site, self.now)
        self.invocations += 1
        req = {"op": "call", "fn": fn, "service": service, "now": self.now,
               "invocation": _invocation_id(site),
               "store": store.snapshot() if snapshot is None else snapshot, "crash_at": crash_at}
        if event is not None:
            req["event"] = event
        else:
            req["request"] = request
        tag = event or {"correlation_id": (request or {}).get("correlation_id")}
        corr = tag.get("correlation_id")
        state = {"applied": 0, "conflict": None}

        def apply(batch: list[dict]) -> None:
            for effect in batch:
                state["applied"] += 1
                if effect["kind"] == "call" or state["conflict"]:
                    continue
                self._apply(service, fn, effect, corr, tag, state)

        def on_call(payload: dict) -> dict:
            try:
                self.round_trips += fn in self.scenario.functions
                if isinstance(payload, dict):
                    apply(effects.effect_list(payload.get("pending", []), "call.pending"))
                    state["applied"] += 1                    # the call itself
                if corr and isinstance(payload, dict) and payload.get("correlation_id") != corr:
                    self.note("correlation", f"{fn}() called {payload.get('service')}.{payload.get('op')} with "
                                             f"correlation id {payload.get('correlation_id')!r}, expected {corr!r}")
                return self.rpc.from_guest(service, site, payload)
            except Exception as exc:  # noqa: BLE001
                # Raised after the guest answers: learner code must not be able to catch it, and
                # nothing may escape into the runner's exchange (a jail ends on an interrupted one).
                state["abort"] = state.get("abort") or exc
                return {"status": "error", "message": "rejected by the simulator"}

        raw = self.guest(fn, req, on_call)
        if state.get("abort"):
            raise state["abort"]
        resp = effects.call_response(raw)
        if resp["crashed"] and crash_at is not None:
            del resp["effects"][crash_at:]
        self.plan.crash_sites(site, len(resp["effects"]), self.now)
        apply(resp["effects"][state["applied"]:])
        resp["conflict"] = state["conflict"]
        if resp["crashed"]:
            if crash_at is not None:
                self.plan.crashed(site, crash_at)
            where = f"after {len(resp['effects'])} effect(s)" if resp["effects"] else "before doing anything"
            self.log("crash", service, f"{service} crashed in {fn}() {where}", tag)
        elif not resp["ok"]:
            text = resp["error"] + (("\n" + resp["traceback"]) if resp["traceback"] else "")
            self.errors.append(f"{fn}(): {text}")
            self.log("error", service, f"{fn}() raised {text}", tag)
        return resp

    def _apply(self, service: str, fn: str, effect: dict, corr, tag: dict, state: dict) -> None:
        messages = effect["outbox"] if effect["kind"] == "commit" else [effect]
        for m in messages if corr else ():
            if m["correlation_id"] != corr:
                self.note("correlation", f"{fn}() emitted {m['type']} with correlation id "
                                         f"{m['correlation_id']!r}, expected {corr!r}")
        store = self.stores[service]
        if effect["kind"] == "commit":
            problem, rows = store.commit(effect["writes"], effect["outbox"])
            if sum(map(len, store.tables.values())) + len(store.outbox) > MAX_ROWS:
                raise effects.GuestProtocolError(f"{service}'s store grew beyond {MAX_ROWS} rows: "
                                                 f"{fn}() writes far more than this scenario needs")
            if problem:
                state["conflict"] = problem
                self.log("conflict", service, f"commit rejected: {problem}", tag)
                return
            if self.tracing:
                self.log("commit", service, _describe_commit(effect), tag)
            if rows:
                self.relay.kick(service)
        else:
            store._seq += 1
            msg = {"id": f"{service}-p{store._seq}", "type": effect["type"], "data": effect["data"],
                   "correlation_id": effect["correlation_id"], "source": service}
            self.broker.publish(service, msg)


@functools.lru_cache(maxsize=4096)
def _invocation_id(site: str) -> str:
    return hashlib.blake2b(site.encode(), digest_size=4).hexdigest()


def _describe_commit(effect: dict) -> str:
    parts = []
    for op, table, key, row in effect["writes"][:4]:
        if op == "update":
            parts.append(f"{table}/{key} " + ", ".join(f"{k}={v}" for k, v in row.items()))
        else:
            parts.append(f"{op} {table}/{key}")
    if len(effect["writes"]) > 4:
        parts.append(f"+{len(effect['writes']) - 4} more")
    parts += [f"outbox {m['type']}" for m in effect["outbox"]]
    return "; ".join(parts) or "(empty)"
