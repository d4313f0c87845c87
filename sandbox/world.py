"""One simulated run: services with stores, the broker, the relay, RPC, the clock,
the fault plan and the trace, and the single place where guest answers are
validated and applied."""

from __future__ import annotations

import functools
import hashlib
import json
import marshal
import time
from typing import TYPE_CHECKING, Any, TypedDict

from . import effects
from .broker import Broker
from .clock import Scheduler
from .outbox import Relay
from .rng import world_rng
from .rpc import Rpc
from .runner import Callback, Runner, RunnerError
from .store import Store
from .trace import Trace

if TYPE_CHECKING:  # scenarios import the world's helpers; the world only drives them
    from .faults import FaultPlan
    from .scenarios.base import Scenario

HORIZON = 60_000  # the consistency window, in virtual ms
MAX_STEPS = 20_000
MAX_ROWS = 5_000  # per service, outbox included: a store is small in these worlds
MAX_ROUND_TRIPS = (
    4_000  # learner requests + callbacks in one run (a reference needs well under 100)
)
# == json.dumps(x, sort_keys=True, separators=(",", ":")), without building an encoder per call.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


MAX_CALLS_PER_INVOCATION = (
    64  # RPCs one learner invocation may make (the longest saga step needs 6)
)
# Rows one learner invocation may ask for (the guest keeps each row it read, so only distinct
# rows count; a table scan counts once).
MAX_READS_PER_INVOCATION = 1_000
_READS = ("read", "scan", "now", "input")
_ASKED_EVENT_FIELDS = ("id", "source", "attempt")
CACHE_BYTES = 64 * 1024 * 1024  # answer tapes kept per grading; past it the cache starts over
CPU_CHECK_INTERVAL = 0.002  # s of wall time between two reads of the CPU time (charge_cpu)


class RunExhausted(Exception):
    """The run used up its budget of guest round trips (e.g. a RetryLater(0) loop)."""


class WorkBudgetExceeded(effects.GuestProtocolError):
    """The learner's code made the simulator do more work than any solution needs: the grading
    ends with a verdict that says so."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Your code made the simulator do too much work: {what}. No solution needs "
            f"that much; look for loops that call, retry or write far more than the "
            f"scenario asks."
        )


def _exact(value: Any) -> bytes:  # (Any: a request or an answer, JSON-shaped)
    """The bytes a tape key hashes for a request or an answer: ``marshal`` format 2 of the value.

    Format 2 (no back-references, no interning flags) writes every object it meets, in order,
    each with its exact type and a length or terminator, so equal bytes mean the very same value:
    same types (a tuple is not a list, 1 is not 1.0 or True), same keys *in the same order*.
    That is finer than the JSON text with sorted keys these keys were once built from (equal
    bytes imply equal JSON text, so every replay it allows the JSON key allowed too), and closer
    to what the guest can read: a dict reaches it in this order, and code may iterate it. It is
    also written in C without sorting or escaping, several times faster. A value marshal refuses
    (a subclass of a JSON type, from trusted in-process code) is keyed by its JSON text instead,
    under another prefix."""
    try:
        return b"m" + marshal.dumps(value, 2)
    except ValueError:
        return b"j" + _canonical(value).encode()


class Cache:
    """The answer tapes of one grading, bounded in bytes: keys are 16-byte digests (a hash chain
    over the request and the answers so far) and values are charged by their encoded size. When
    full it starts over, which only costs round trips (every entry can be recomputed)."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.entries: dict[bytes, tuple[Any, ...]] = {}
        # Final answers already checked by ``effects.call_response``, by the answer's identity:
        # id(answer) -> (answer, the nodes its check charged, the checked copy, marshalled). The
        # answer is held, so its id cannot be reused while the entry lives; the same budget as
        # ``entries`` bounds it (both are dropped together).
        self.checked: dict[int, tuple[object, int, bytes]] = {}

    @staticmethod
    def key(request: dict[str, Any]) -> bytes:
        try:  # == _exact(request), inline
            text = b"m" + marshal.dumps(request, 2)
        except ValueError:
            text = _exact(request)
        return hashlib.blake2b(text, digest_size=16).digest()

    @staticmethod
    def chain(previous: bytes, answer: Any) -> bytes:  # (Any: an answer, JSON-shaped)
        try:  # == _exact(answer), inline
            text = b"m" + marshal.dumps(answer, 2)
        except ValueError:
            text = _exact(answer)
        return hashlib.blake2b(previous + text, digest_size=16).digest()

    def get(self, key: bytes) -> tuple[Any, ...] | None:
        return self.entries.get(key)

    def put(self, key: bytes, value: tuple[Any, ...]) -> None:
        try:
            cost = 64 + len(_canonical(value[1]))
        except (TypeError, ValueError):
            return  # not JSON (only trusted in-process code can say that): validation will refuse it
        self._charge(cost)
        self.entries[key] = value

    def _charge(self, cost: int) -> None:
        if self.size + cost > self.limit:
            self.entries.clear()
            self.checked.clear()
            self.size = 0
        self.size += cost

    def call_response(self, answer: object, budget: effects._Budget) -> dict[str, Any]:
        """``effects.call_response(answer, budget)``, checked once per answer object: a tape's
        final answer is served again and again (every replay of the step), and checking it gives
        the same copy and charges the same number of nodes every time. A repeat therefore charges
        those nodes and returns a fresh copy of the first check's result (``marshal``: a C deep
        copy of plain JSON data), unless the budget would run out, where the full check runs again
        to fail exactly where it always did."""
        memo = self.checked.get(id(answer))
        if memo is not None and memo[0] is answer and budget.nodes + memo[1] <= effects.MAX_NODES:
            budget.nodes += memo[1]
            copy: dict[str, Any] = marshal.loads(memo[2])
            return copy
        before = budget.nodes
        resp = effects.call_response(answer, budget)
        try:
            blob = marshal.dumps(resp)
        except ValueError:
            return resp  # a subclass of a JSON type (trusted in-process code only): not kept
        self._charge(64 + len(blob))
        self.checked[id(answer)] = (answer, budget.nodes - before, blob)
        return resp


class _Invocation(TypedDict):
    """What ``World.invoke`` knows about one guest invocation while it runs."""

    received: int  # effects (calls included) counted so far
    crashed: bool  # the crash point was reached: nothing more applies
    conflict: str | None  # a commit the store rejected
    calls: int  # callbacks the guest made (reads aside)
    reads: int  # rows (and the time) the guest asked for
    abort: Exception | None  # raised once the guest answers (see on_call)


class World:
    def __init__(
        self,
        scenario: Scenario,
        learner: Runner,
        trusted: Runner,
        plan: FaultPlan,
        seed: int,
        cache: Cache | None = None,
        constants: dict[str, Any] | None = None,
        tracing: bool = True,
    ) -> None:
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
        # note() appends to a list under a key; scenarios also keep per-run state here (the shop's
        # data, the ids a participant refused), so values are of any type.
        self.notes: dict[str, Any] = {}
        self.errors: list[str] = []
        self.invocations = 0
        self.round_trips = (
            0  # calls into learner code (requests and their callbacks), cached or not
        )
        self.jail_trips = 0  # requests that actually went to the learner's runner
        self.finished = False
        self.exhausted = False
        self.cpu_deadline: float | None = None  # time.thread_time() past which the grading stops
        self._next_cpu_check = 0.0  # time.perf_counter() from which charge_cpu reads the CPU time

    @property
    def now(self) -> int:
        return self.sched.now

    def note(self, key: str, value: object) -> None:
        self.notes.setdefault(key, []).append(value)

    def log(
        self,
        kind: str,
        service: str,
        detail: str,
        msg: dict[str, Any] | None = None,
        to: str | None = None,
    ) -> None:
        if not self.tracing:
            return
        msg = msg or {}
        self.trace.add(
            self.sched.now,
            service,
            kind,
            detail,
            message_id=msg.get("id"),
            correlation_id=msg.get("correlation_id"),
            to=to,
        )

    def down_until(self, service: str) -> int | None:
        for start, end in self.outages.get(service, ()):
            if start <= self.sched.now < end:
                return end
        return None

    def run(self) -> None:
        try:
            self.finished = self.sched.run(HORIZON, MAX_STEPS)
        except RunExhausted:
            self.finished, self.exhausted = False, True
            self.log(
                "blocked",
                self.scenario.lanes[0],
                f"simulation stopped after {self.round_trips} calls "
                f"into your code: it never settles",
            )

    # -- talking to the guest ---------------------------------------------------

    def guest(
        self,
        fn: str,
        request: dict[str, Any],
        on_callback: Callback | None = None,
        cache: bool = True,
        *,
        tape_trusted: bool = False,
    ) -> dict[str, Any]:
        """One guest request. Learner answers are cached as *tapes*: for a request and the
        answers its callbacks got so far, what the guest did next (another callback, or its final
        answer). A cached run replays the callbacks live against this world and only goes back to
        the guest when an answer differs from every recorded one; the guest then re-runs with the
        answers it already got scripted. Sound because every guest request runs in a freshly
        loaded module (the jail forks a pristine child per request): what learner code does is a
        function of the request and the answers it gets, nothing else.

        Tape keys are a hash chain (request, answer 1, answer 2, ...), so a key costs the same
        whatever the number of callbacks, and the cache as a whole is bounded (``Cache``).

        ``tape_trusted``: a trusted participant's lazy request (from ``invoke``) is taped too. Its
        code is this side's and stateless (``fresh=False`` keeps nothing between calls), so what it
        does is a function of what it reads as well; it never counts as a call into learner code.
        """
        runner = self.learner if fn in self.scenario.functions else self.trusted
        if runner is self.learner:
            # Every call into learner code counts, answered from the cache or not: the budget of a
            # run must not depend on what earlier runs happened to cache (a replay must end alike).
            if self.round_trips >= MAX_ROUND_TRIPS:
                raise RunExhausted()
            self.round_trips += 1
        if self.cpu_deadline is not None and time.perf_counter() >= self._next_cpu_check:
            self.charge_cpu()  # (between two checks charge_cpu would return at once)
        live = on_callback or (lambda payload: {"status": "error", "message": "no calls here"})
        if not (cache and self.cache is not None and (runner is self.learner or tape_trusted)):
            self.jail_trips += runner is self.learner
            return runner.request(request, live)
        tape = self.cache
        key = tape.key(request)
        keys = [key]
        answers: list[dict[str, Any]] = []
        entries = tape.entries
        chain = tape.chain
        while True:
            step = entries.get(key)  # == tape.get(key)
            if step is None:
                break
            if step[0] == "done":
                done: dict[str, Any] = step[1]
                return done
            answer = live(step[1])
            answers.append(answer)
            key = chain(key, answer)
            keys.append(key)
        known = len(answers)
        seen = [0]
        diverged = []

        def scripted(payload: dict[str, Any]) -> dict[str, Any]:
            i = seen[0]
            seen[0] += 1
            if i < known:
                # keys[:known] were on the tape above (type: ignore: a nested grading call could
                # have cleared the cache since; that fails here as it always has).
                if tape.get(keys[i])[1] != payload:  # type: ignore[index]
                    diverged.append(i)
                    return {"status": "error", "message": "rejected by the simulator"}
                return answers[i]  # already executed live above
            tape.put(keys[i], ("call", payload))
            answers.append(live(payload))
            keys.append(tape.chain(keys[i], answers[-1]))
            return answers[-1]

        self.jail_trips += runner is self.learner
        answer = runner.request(request, scripted)
        if diverged:
            raise effects.GuestProtocolError(
                f"{fn}() did something different for exactly the same input (call {diverged[0] + 1}): keep "
                f"state in ctx.db, not in module globals, and do not use randomness or the clock"
            )
        tape.put(keys[len(answers)], ("done", answer))
        return answer

    def charge_cpu(self) -> None:
        """Stop the grading once this thread has used its CPU budget (``cpu_deadline``).

        Reading the thread's CPU time is a system call (microseconds, and this runs on every guest
        request and callback), so it is read at most once per ``CPU_CHECK_INTERVAL`` of wall time:
        one thread cannot use more CPU time than the wall time that passed, so the deadline is
        still caught within ``CPU_CHECK_INTERVAL`` of CPU time."""
        if self.cpu_deadline is None:
            return
        wall = time.perf_counter()
        if wall < self._next_cpu_check:
            return
        self._next_cpu_check = wall + CPU_CHECK_INTERVAL
        if time.thread_time() > self.cpu_deadline:
            raise WorkBudgetExceeded(
                "simulating what it did took more of the grader's CPU time than a grading may use"
            )

    def invoke(
        self,
        service: str,
        fn: str,
        site: str,
        *,
        event: dict[str, Any] | None = None,
        request: dict[str, Any] | None = None,
        snapshot: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run a guest function in ``service`` and apply what it did. Returns the checked answer
        plus ``conflict`` (a commit the store rejected).

        Faults are this side's alone: the guest is never told whether or where it will crash. It
        runs to the end; effects arrive here in order (with each call, then the rest with the
        answer), and this side counts them: an effect at or past the crash point is never applied,
        a call past it is refused (answered "crash", nothing done), and a crash after the last
        effect still happens, whatever the guest reports."""
        store = self.stores[service]
        crash = self.plan.crash(site, self.sched.now)  # where it crashes, drawn as effects arrive
        self.invocations += 1
        learner = fn in self.scenario.functions
        # Trusted participants (the scenario's world.py: stateless functions of what they read,
        # in this process) are asked lazily and taped like learner code when there is a cache, so
        # their steps replay from it too; without one they get everything up front.
        lazy = learner or self.cache is not None
        view = store.snapshot() if snapshot is None else snapshot
        started = self.sched.now
        invocation = _invocation_id(site)
        req: dict[str, Any] = {"op": "call", "fn": fn, "service": service}
        if lazy:
            # The guest asks for each row it reads, the time, the invocation id and the
            # event's id, source and attempt, when it first reads them (``read`` below): the
            # answer cache then keys on what the function really read and serves it again
            # wherever that is the same (a duplicate delivery, the same step in another schedule).
            if event is not None:
                req["event"] = {k: v for k, v in event.items() if k not in _ASKED_EVENT_FIELDS}
        else:
            # Everything up front (no round trips, no cache).
            req.update(now=started, store=view, invocation=invocation)
        if "event" not in req and event is not None:
            req["event"] = event
        if event is None:
            req["request"] = request
        tag = event or {"correlation_id": (request or {}).get("correlation_id")}
        corr = tag.get("correlation_id")
        state: _Invocation = {
            "received": 0,
            "crashed": False,
            "conflict": None,
            "calls": 0,
            "reads": 0,
            "abort": None,
        }
        budget = (
            effects._Budget()
        )  # what this invocation may send in all, calls and answer together

        def take(batch: list[dict[str, Any]]) -> None:
            for effect in batch:
                if state["crashed"] or crash.reached(state["received"]):
                    state["crashed"] = True  # the process died before this effect
                    return
                state["received"] += 1
                if effect["kind"] != "call" and not state["conflict"]:
                    self._apply(service, fn, effect, corr, tag, state)

        def read(payload: dict[str, Any]) -> dict[str, Any]:
            """A read of this invocation's snapshot (never an effect: crash points ignore it)."""
            state["reads"] += 1
            if learner and state["reads"] > MAX_READS_PER_INVOCATION:
                raise WorkBudgetExceeded(
                    f"{fn}() read more than {MAX_READS_PER_INVOCATION} rows in one invocation"
                )
            if self.cpu_deadline is not None and time.perf_counter() >= self._next_cpu_check:
                self.charge_cpu()  # (between two checks charge_cpu would return at once)
            kind, table = payload["kind"], payload.get("table")
            if kind == "now":
                return {"status": "ok", "now": started}
            if kind == "input":
                field = payload.get("field")
                if field == "invocation":
                    return {"status": "ok", "value": invocation}
                name = field[6:] if isinstance(field, str) and field.startswith("event.") else ""
                if event is None or name not in _ASKED_EVENT_FIELDS:
                    return {"status": "error", "message": f"no such input: {field!r}"}
                return {"status": "ok", "value": event.get(name, 1 if name == "attempt" else None)}
            if not isinstance(table, str):
                return {"status": "error", "message": "table names must be strings"}
            rows = view.get(table, {})
            if kind == "scan":
                return {"status": "ok", "rows": rows}
            key = payload.get("key")
            if not isinstance(key, str):
                return {"status": "error", "message": "keys must be strings"}
            return {"status": "ok", "row": rows.get(key)}

        def on_call(payload: dict[str, Any]) -> dict[str, Any]:
            try:
                if isinstance(payload, dict) and payload.get("kind") in _READS:
                    return read(payload)
                state["calls"] += 1
                if learner:
                    self.round_trips += 1
                    self.charge_cpu()
                    if state["calls"] > MAX_CALLS_PER_INVOCATION:
                        raise WorkBudgetExceeded(
                            f"{fn}() made more than {MAX_CALLS_PER_INVOCATION} calls in one "
                            f"invocation"
                        )
                    if self.round_trips > MAX_ROUND_TRIPS:
                        raise RunExhausted()
                if state["crashed"]:
                    return {"status": "crash"}  # refused: this process is already dead
                if not isinstance(payload, dict):
                    raise effects.GuestProtocolError(
                        "invalid callback from the sandbox: not a dict"
                    )
                take(effects.effect_list(payload.get("pending", []), "call.pending", budget))
                if state["crashed"] or crash.reached(state["received"]):
                    state["crashed"] = True
                    return {"status": "crash"}
                state["received"] += 1  # the call itself
                if corr and payload.get("correlation_id") != corr:
                    self.note(
                        "correlation",
                        f"{fn}() called {payload.get('service')}.{payload.get('op')} with "
                        f"correlation id {payload.get('correlation_id')!r}, expected {corr!r}",
                    )
                return self.rpc.from_guest(service, site, payload, budget)
            except Exception as exc:  # noqa: BLE001
                # Raised after the guest answers: learner code must not be able to catch it, and
                # nothing may escape into the runner's exchange (a jail ends on an interrupted one).
                state["abort"] = state["abort"] or exc
                return {"status": "error", "message": "rejected by the simulator"}

        try:
            raw = self.guest(fn, req, on_call, tape_trusted=lazy)
        except RunnerError:
            if state["abort"]:  # the runner gave up on code we had already stopped serving
                raise state["abort"] from None
            raise
        if state["abort"]:
            raise state["abort"]
        resp = (
            effects.call_response(raw, budget)
            if self.cache is None or not lazy
            else self.cache.call_response(raw, budget)
        )
        made = resp["effects"]
        if not state["crashed"]:
            take(made[state["received"] :])
        if self.plan.mode == "discover":  # (crash_sites does nothing in any other mode)
            self.plan.crash_sites(site, max(len(made), state["received"]), self.sched.now)
        if crash.reached(state["received"]):
            state["crashed"] = True  # after the last effect, before the ack or reply
        resp["crashed"] = state["crashed"]
        resp["conflict"] = state["conflict"]
        if state["crashed"]:
            crash_at = crash.at
            assert crash_at is not None  # only a crash point sets "crashed"
            # Nothing the guest reported after its crash point counts: no answer, no error.
            resp.update(
                ok=True,
                error=None,
                traceback="",
                value=None,
                retry_after=None,
                poison=None,
                effects=made[:crash_at],
            )
            self.plan.crashed(site, crash_at)
            n = crash_at
            where = f"after {n} effect(s)" if n else "before doing anything"
            self.log("crash", service, f"{service} crashed in {fn}() {where}", tag)
        elif not resp["ok"]:
            text = resp["error"] + (("\n" + resp["traceback"]) if resp["traceback"] else "")
            self.errors.append(f"{fn}(): {text}")
            self.log("error", service, f"{fn}() raised {text}", tag)
        return resp

    def _apply(
        self,
        service: str,
        fn: str,
        effect: dict[str, Any],
        corr: str | None,
        tag: dict[str, Any],
        state: _Invocation,
    ) -> None:
        messages = effect["outbox"] if effect["kind"] == "commit" else [effect]
        for m in messages if corr else ():
            if m["correlation_id"] != corr:
                self.note(
                    "correlation",
                    f"{fn}() emitted {m['type']} with correlation id "
                    f"{m['correlation_id']!r}, expected {corr!r}",
                )
        store = self.stores[service]
        if effect["kind"] == "commit":
            problem, rows = store.commit(effect["writes"], effect["outbox"])
            if sum(map(len, store.tables.values())) + len(store.outbox) > MAX_ROWS:
                raise effects.GuestProtocolError(
                    f"{service}'s store grew beyond {MAX_ROWS} rows: "
                    f"{fn}() writes far more than this scenario needs"
                )
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
            msg = {
                "id": f"{service}-p{store._seq}",
                "type": effect["type"],
                "data": effect["data"],
                "correlation_id": effect["correlation_id"],
                "source": service,
            }
            self.broker.publish(service, msg)


@functools.lru_cache(maxsize=4096)
def _invocation_id(site: str) -> str:
    return hashlib.blake2b(site.encode(), digest_size=4).hexdigest()


def _describe_commit(effect: dict[str, Any]) -> str:
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
