"""Circuit breaker: the learner guards the calls a Gateway makes to Inventory, which fails,
recovers and fails again.

The learner writes two functions that run in the Gateway, with the breaker's state in
``ctx.db`` (every call runs in a fresh process, so module globals are forgotten):

* ``allow_request(request, ctx)`` when a client request arrives: ``True`` sends the call to
  Inventory now, ``False`` fails the request at once (the breaker is open);
* ``record_result(result, ctx)`` when a call that was sent comes back: ``result.data["ok"]``
  says whether it succeeded (``"error"`` is ``"timeout"`` or ``"unavailable"``).

Calls take time here (unlike the rest of the simulator): a healthy answer comes after
``LATENCY_MIN_MS`` to ``LATENCY_MAX_MS``, a call to Inventory while it is down hangs until the
caller's timeout, ``CALL_TIMEOUT_MS``. So several calls can be in flight at once, and a
half-open breaker has to decide about new requests while its trial calls are still out.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them); every set holds every family below, only the timing differs:

* **Steady traffic.** Requests arrive every ``GAP_MIN_MS`` to ``GAP_MAX_MS`` ms, each with a
  random request id and correlation id.
* **A hard outage.** From ``FIRST_FAILURE_FROM_MS``-``FIRST_FAILURE_TO_MS`` Inventory is down
  for ``OUTAGE_MIN_MS``-``OUTAGE_MAX_MS``: every call sent then times out.
* **Recovery.** Inventory is healthy again for ``HEALTHY_MIN_MS``-``HEALTHY_MAX_MS``.
* **A brownout.** Then Inventory fails again for ``BROWNOUT_MIN_MS``-``BROWNOUT_MAX_MS``, this
  time partly: it answers quickly, but most calls get "unavailable" (runs of
  ``BROWNOUT_RUN_MIN``-``BROWNOUT_RUN_MAX`` errors between single successes). A breaker that
  forgets its failures on any success never opens here; one that closes after a single
  successful trial flaps.
* **Isolated errors while healthy.** Once Inventory has been healthy for ``RETURN_MS``, one
  request in every ``FLAKE_EVERY_MIN``-``FLAKE_EVERY_MAX`` gets "unavailable": a breaker must
  not trip on those (nor count them for ever).
* **A second failure that lasts** (fault ``outage`` at ``inventory:long``): the brownout goes on
  until the traffic stops.

What is graded (the statement renders every number from these constants):

* bounded load: from ``DETECT_MS`` after Inventory started failing until it recovers, at most
  ``LOAD_LIMIT`` calls reach it in any ``LOAD_WINDOW_MS`` (sliding window);
* fail fast: once ``TRIP_AFTER`` calls in a row have come back failed, no request is sent to
  Inventory until ``MIN_OPEN_MS`` after the last of those failures;
* traffic returns: while Inventory is healthy (from the start, and from ``RETURN_MS`` after each
  recovery, until it fails again) at least ``SERVED_PERCENT``% of requests are sent to it;
* no storm: after the breaker has refused a request, it sends at most ``TRIAL_CALLS`` calls
  before one comes back (success or failure).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ... import effects
from ..base import Scenario

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...invariants import Facts
    from ...report import ExtraReport
    from ...world import World

# What happens to one call sent to Inventory: (ok, error, how long until its answer).
Outcome = tuple[bool, str | None, int]
# What the invariants read, in the order it happened: ("sent" | "refused" | "reply", t, request id,
# ok for a reply).
Event = tuple[str, int, str, bool | None]
Period = tuple[int, int, str]  # (from, until, "down" | "brownout"): Inventory failing


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


class CircuitBreaker(Scenario):
    name = "circuit_breaker"
    title = "Circuit breaker"
    summary = (
        "A Gateway calls Inventory for every client request. Inventory goes down, comes back, and "
        "then fails again, partly. Write the Gateway's circuit breaker, allow_request(request, ctx) "
        "and record_result(result, ctx), with its state in ctx.db: closed, open after a failure "
        "rate over a window, half-open with a few trial calls. Load on a failing Inventory must "
        "stay bounded, callers must fail fast while it is open, traffic must return after "
        "recovery, and reopening must not let a storm through."
    )
    lanes = ("clients", "gateway", "inventory")
    functions = ("allow_request", "record_result")
    signatures = {
        "allow_request": "allow_request(request, ctx)",
        "record_result": "record_result(result, ctx)",
    }
    invariants = (
        "bounded_load_while_failing",
        "fails_fast_while_open",
        "traffic_returns_after_recovery",
        "no_storm_at_reopening",
    )
    fault_kinds = ("outage",)
    expected = {
        "reference": "pass",
        "never_opens": "bounded_load_while_failing",
        "resets_on_any_success": "bounded_load_while_failing",
        "closes_after_one_trial": "bounded_load_while_failing",
        "failed_trial_stays_half_open": "fails_fast_while_open",
        "timeouts_not_counted": "fails_fast_while_open",
        "never_closes_again": "traffic_returns_after_recovery",
        "counts_without_a_window": "traffic_returns_after_recovery",
        "cooldown_restarts_on_every_refusal": "traffic_returns_after_recovery",
        "half_open_lets_everyone_through": "no_storm_at_reopening",
        "starter": "bounded_load_while_failing",
    }

    DATA_WORLDS = 6  # data sets the schedules draw from; each has every family (see the docstring)
    # -- the world --------------------------------------------------------------------------------
    GAP_MIN_MS = 110  # between two client requests
    GAP_MAX_MS = 220
    LATENCY_MIN_MS = 20  # a healthy answer (or a quick "unavailable")
    LATENCY_MAX_MS = 80
    CALL_TIMEOUT_MS = 500  # a call to Inventory while it is down hangs this long, then fails
    FIRST_FAILURE_FROM_MS = 1_500
    FIRST_FAILURE_TO_MS = 2_500
    OUTAGE_MIN_MS = 3_000
    OUTAGE_MAX_MS = 4_000
    HEALTHY_MIN_MS = 5_000
    HEALTHY_MAX_MS = 6_000
    BROWNOUT_MIN_MS = 3_000
    BROWNOUT_MAX_MS = 4_000
    BROWNOUT_RUN_MIN = 2  # errors in a row during the brownout, between single successes
    BROWNOUT_RUN_MAX = 4
    FLAKE_EVERY_MIN = 6  # one isolated error every 6-12 requests while Inventory is healthy
    FLAKE_EVERY_MAX = 12
    # -- the breaker the statement describes (the reference uses exactly these) ----------------------
    WINDOW_SIZE = 10
    MIN_CALLS = 5
    FAILURE_RATE_PERCENT = 50
    OPEN_MS = 1_500
    TRIAL_CALLS = 2
    # -- what is graded -----------------------------------------------------------------------------
    DETECT_MS = 2_000  # time the breaker gets to notice a failure before the load limit applies
    LOAD_WINDOW_MS = 1_000
    LOAD_LIMIT = 3  # calls reaching a failing Inventory in any LOAD_WINDOW_MS, after DETECT_MS
    TRIP_AFTER = 8  # failures in a row after which callers must fail fast ...
    MIN_OPEN_MS = 1_000  # ... for at least this long after the last of them
    RETURN_MS = 3_000  # after a recovery, traffic must be back by then ...
    SERVED_PERCENT = 90  # ... with at least this share of requests sent to Inventory
    NEVER = 10**9

    def statement_constants(self) -> dict[str, int | float | str]:
        out = super().statement_constants()
        out.pop("NEVER", None)
        return out

    # -- data -----------------------------------------------------------------------------------
    def data(self, world: World) -> dict[str, Any]:
        """This schedule's timeline and requests (see the module docstring)."""
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        down = rng.randint(self.FIRST_FAILURE_FROM_MS, self.FIRST_FAILURE_TO_MS)
        up = down + rng.randint(self.OUTAGE_MIN_MS, self.OUTAGE_MAX_MS)
        brownout = up + rng.randint(self.HEALTHY_MIN_MS, self.HEALTHY_MAX_MS)
        over = brownout + rng.randint(self.BROWNOUT_MIN_MS, self.BROWNOUT_MAX_MS)
        end = over + rng.randint(self.HEALTHY_MIN_MS, self.HEALTHY_MAX_MS)
        requests: list[dict[str, Any]] = []
        t = rng.randint(0, self.GAP_MAX_MS)
        while t < end:
            requests.append(
                {
                    "id": f"req-{_hex(rng, 6)}",
                    "correlation_id": f"c{_hex(rng, 10)}",
                    "t": t,
                    "latency": rng.randint(self.LATENCY_MIN_MS, self.LATENCY_MAX_MS),
                    "brownout_ok": False,
                    "flaky": False,
                }
            )
            t += rng.randint(self.GAP_MIN_MS, self.GAP_MAX_MS)
        # The brownout's answers, by arrival: runs of errors between single successes, drawn up to
        # the end of the traffic (a brownout that lasts, fault "outage", uses them all).
        run = 0
        for req in (r for r in requests if r["t"] >= brownout):
            if run <= 0:
                req["brownout_ok"] = True
                run = rng.randint(self.BROWNOUT_RUN_MIN, self.BROWNOUT_RUN_MAX)
            else:
                run -= 1
        # Isolated errors while Inventory is healthy and settled (from the start, and RETURN_MS after
        # each recovery), never two close together.
        settled = [(0, down), (up + self.RETURN_MS, brownout), (over + self.RETURN_MS, end)]
        gap = rng.randint(1, self.FLAKE_EVERY_MAX)
        for req in requests:
            if not any(a <= req["t"] < b for a, b in settled):
                continue
            gap -= 1
            if gap <= 0:
                req["flaky"] = True
                gap = rng.randint(self.FLAKE_EVERY_MIN, self.FLAKE_EVERY_MAX)
        return {
            "index": index,
            "down": down,
            "up": up,
            "brownout": brownout,
            "over": over,
            "end": end,
            "requests": requests,
        }

    def setup(self, world: World) -> None:
        data = self.data(world)
        long = world.plan.fires("outage", "inventory:long", 0)
        over = self.NEVER if long else data["over"]
        world.notes["data"] = [data]
        world.notes["periods"] = [
            (data["down"], data["up"], "down"),
            (data["brownout"], over, "brownout"),
        ]
        world.notes["events"] = []
        world.sched.at(
            data["down"],
            self._note,
            world,
            "blocked",
            "Inventory goes down: every call hangs until it times out",
        )
        world.sched.at(data["up"], self._note, world, "recovered", "Inventory is back")
        world.sched.at(
            data["brownout"],
            self._note,
            world,
            "blocked",
            "Inventory fails again: it answers most calls with 'unavailable'"
            + (" (until the end)" if long else ""),
        )
        if not long:
            world.sched.at(over, self._note, world, "recovered", "Inventory is back")
        for req in data["requests"]:
            world.sched.at(req["t"], self._arrive, world, req)

    def _note(self, world: World, kind: str, text: str) -> None:
        world.log(kind, "inventory", text)

    # -- the trusted side: clients, the gateway's plumbing, Inventory ---------------------------------
    def _outcome(self, world: World, req: dict[str, Any]) -> Outcome:
        down, up, _ = world.notes["periods"][0]
        brownout, over, _ = world.notes["periods"][1]
        if down <= world.now < up:
            return False, "timeout", self.CALL_TIMEOUT_MS
        if brownout <= world.now < over:
            return (
                (True, None, req["latency"])
                if req["brownout_ok"]
                else (False, "unavailable", req["latency"])
            )
        if req["flaky"]:
            return False, "unavailable", req["latency"]
        return True, None, req["latency"]

    def _arrive(self, world: World, req: dict[str, Any]) -> None:
        tag = {"correlation_id": req["correlation_id"]}
        resp = world.invoke(
            "gateway",
            "allow_request",
            f"gateway.allow_request:{req['id']}",
            request={
                "op": "allow_request",
                "data": {"request_id": req["id"]},
                "idempotency_key": None,
                "correlation_id": req["correlation_id"],
                "caller": "clients",
            },
        )
        value = resp["value"]
        send = False
        if resp["ok"] and (resp["retry_after"] is not None or resp["poison"] is not None):
            raise effects.GuestProtocolError(
                "allow_request() raised RetryLater or Poison: those only make sense in message "
                "handlers; return True (send the call) or False (fail fast)"
            )
        if resp["ok"]:
            if not isinstance(value, bool):
                raise effects.GuestProtocolError(
                    f"allow_request() returned {value!r}: return True to send the call to Inventory "
                    f"or False to fail the request at once"
                )
            send = value
        events = world.notes["events"]
        if not send:
            events.append(("refused", world.now, req["id"], None))
            why = "allow_request() raised" if not resp["ok"] else "the breaker refused it"
            world.log("refused", "gateway", f"{req['id']} failed fast: {why}", tag, to="clients")
            return
        events.append(("sent", world.now, req["id"], None))
        bucket = world.rpc.load.setdefault("inventory", {})
        bucket[world.now // 100] = bucket.get(world.now // 100, 0) + 1
        world.log("call", "gateway", f"get_stock for {req['id']}", tag, to="inventory")
        ok, error, after = self._outcome(world, req)
        world.sched.after(after, self._answer, world, req, world.now, ok, error)

    def _answer(
        self, world: World, req: dict[str, Any], sent_at: int, ok: bool, error: str | None
    ) -> None:
        tag = {"correlation_id": req["correlation_id"]}
        world.notes["events"].append(("reply", world.now, req["id"], ok))
        if ok:
            world.log("reply", "inventory", f"stock for {req['id']}", tag, to="gateway")
        elif error == "timeout":
            world.log(
                "timeout",
                "gateway",
                f"{req['id']} timed out after {self.CALL_TIMEOUT_MS} ms: Inventory is down",
                tag,
            )
        else:
            world.log("error", "inventory", f"unavailable for {req['id']}", tag, to="gateway")
        world.invoke(
            "gateway",
            "record_result",
            f"gateway.record_result:{req['id']}",
            request={
                "op": "record_result",
                "data": {
                    "request_id": req["id"],
                    "ok": ok,
                    "error": error,
                    "sent_at": sent_at,
                    "latency_ms": world.now - sent_at,
                },
                "idempotency_key": None,
                "correlation_id": req["correlation_id"],
                "caller": "gateway",
            },
        )

    # -- what the invariants read ---------------------------------------------------------------
    def facts(self, world: World) -> Facts:
        events: list[Event] = world.notes.get("events", [])
        periods: list[Period] = world.notes.get("periods", [])
        data = (world.notes.get("data") or [{}])[0]
        return {
            "bounded_load_while_failing": self._bounded_load(events, periods),
            "fails_fast_while_open": self._fails_fast(events),
            "traffic_returns_after_recovery": self._traffic_returns(
                events, periods, data.get("end", 0)
            ),
            "no_storm_at_reopening": self._no_storm(events),
        }

    def _bounded_load(self, events: list[Event], periods: list[Period]) -> list[str]:
        problems = []
        for start, end, what in periods:
            sent = [
                t
                for kind, t, _, _ in events
                if kind == "sent" and start + self.DETECT_MS <= t < end
            ]
            lo, best, at = 0, 0, 0
            for hi, t in enumerate(sent):
                while t - sent[lo] >= self.LOAD_WINDOW_MS:
                    lo += 1
                if hi - lo + 1 > best:
                    best, at = hi - lo + 1, sent[lo]
            if best > self.LOAD_LIMIT:
                state = "down" if what == "down" else "failing most calls"
                problems.append(
                    f"{best} calls reached Inventory in the {self.LOAD_WINDOW_MS} ms from t={at}, while it was "
                    f"{state} (since t={start}); allowed: {self.LOAD_LIMIT} once it has been failing for "
                    f"{self.DETECT_MS} ms"
                )
        return problems

    def _fails_fast(self, events: list[Event]) -> list[str]:
        problems = []
        streak, last_failure = 0, 0
        for kind, t, rid, ok in events:
            if kind == "reply":
                if ok:
                    streak = 0
                else:
                    streak, last_failure = streak + 1, t
            elif (
                kind == "sent" and streak >= self.TRIP_AFTER and t - last_failure < self.MIN_OPEN_MS
            ):
                problems.append(
                    f"{rid} was sent to Inventory at t={t}, {t - last_failure} ms after the last of {streak} "
                    f"calls in a row had failed: the caller waits for a call that will probably fail "
                    f"instead of failing fast (open for at least {self.MIN_OPEN_MS} ms after "
                    f"{self.TRIP_AFTER} failures in a row)"
                )
        return problems

    def _traffic_returns(self, events: list[Event], periods: list[Period], end: int) -> list[str]:
        problems = []
        stretches: list[tuple[int, int, int | None]] = [(0, periods[0][0], None)] if periods else []
        for i, (_, up, _) in enumerate(periods):
            nxt = periods[i + 1][0] if i + 1 < len(periods) else end
            if up < self.NEVER:
                stretches.append((up + self.RETURN_MS, nxt, up))
        for a, b, back in stretches:
            arrived = [
                (kind, t, rid)
                for kind, t, rid, _ in events
                if kind in ("sent", "refused") and a <= t < b
            ]
            if not arrived:
                continue
            sent = sum(kind == "sent" for kind, _, _ in arrived)
            if sent * 100 < self.SERVED_PERCENT * len(arrived):
                first = next(t for kind, t, _ in arrived if kind == "refused")
                since = f"back since t={back}" if back is not None else "healthy from the start"
                problems.append(
                    f"only {sent} of the {len(arrived)} requests between t={a} and t={b} were sent to Inventory "
                    f"although it was healthy ({since}); the first was refused at t={first} (at least "
                    f"{self.SERVED_PERCENT}% must get through)"
                )
        return problems

    def _no_storm(self, events: list[Event]) -> list[str]:
        problems = []
        episode: list[Any] | None = None  # [first refusal at, calls sent since]
        for kind, t, _, _ in events:
            if kind == "refused":
                if episode is None:
                    episode = [t, 0]
            elif kind == "reply":
                episode = None
            elif episode is not None:
                episode[1] += 1
                if episode[1] == self.TRIAL_CALLS + 1:
                    problems.append(
                        f"after refusing requests from t={episode[0]}, the breaker sent {episode[1]} calls to "
                        f"Inventory by t={t} without hearing back from any of them (at most "
                        f"{self.TRIAL_CALLS} trial calls until one comes back)"
                    )
        return problems

    def extra_report(self, world: World | None) -> ExtraReport:
        return {"load": world.rpc.load_series("inventory") if world else []}


SCENARIO = CircuitBreaker()
