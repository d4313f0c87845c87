"""Retry storm: a crowd of clients retries against an Inventory API that is down.

The learner writes ``retry_delay(attempt, rand)``; the trusted side asks it for a whole
table of delays (every client, attempts 1 to ``PROBE_ATTEMPTS``) in one round trip and
then plays the clients against the outage.

Data families (drawn from ``world.rng``, so each schedule's seed gives its own world and
the same seed gives the same world):

* crowd size: ``CLIENTS_MIN`` to ``CLIENTS_MAX`` clients, whose first calls all fail
  within ``START_SPREAD_MS`` of each other (they failed together, so they are in step);
* outage length: inventory is down from t=0 for ``MIN_OUTAGE_MS`` to
  ``MAX_SHORT_OUTAGE_MS`` ms, or (fault ``outage`` at ``inventory:long``) for longer than
  the consistency window: a permanent failure where only giving up ends the run;
* overload after recovery: more than ``CAPACITY`` calls in one 100 ms bucket time out
  (a transient refusal: those clients must retry again);
* ``rand`` differs for every client and attempt.

What is graded (the exercise statement renders every number below from these constants):

* bounded: ``retry_delay(MAX_ATTEMPTS_ALLOWED, rand)`` is None for every client (at most
  ``MAX_ATTEMPTS_ALLOWED`` attempts), and every delay is None or a number of ms in
  [0, ``MAX_DELAY_MS``];
* spread: from the moment inventory is back, at most ``SPREAD_LIMIT`` retries arrive in
  any ``SPREAD_WINDOW_MS`` ms (a sliding window, so a burst cannot hide across a bucket
  boundary); retries sent while inventory is still down are not counted;
* complete: after a short outage at least ``MIN_SUCCESS_PERCENT``% of the clients succeed;
* settles: the run ends within the consistency window; a client whose next attempt would come
  after the window ends counts as still trying (not as got through), so long waits are allowed
  as long as the attempt cap holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import effects
from ...report import ExtraReport
from ...world import HORIZON
from ..base import Scenario

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


class RetryStorm(Scenario):
    name = "retry_storm"
    title = "Retry storm"
    summary = (
        "A crowd of clients calls the Inventory API just as it goes down for a second or two. Write "
        "their retry policy, retry_delay(attempt, rand): how long to wait before the next attempt, or "
        "None to give up. Retries must be bounded and spread out so the recovering service is not "
        "flattened, and most clients must still get through a short outage."
    )
    lanes = ("clients", "inventory")
    functions = ("retry_delay",)
    signatures = {"retry_delay": "retry_delay(attempt, rand)"}
    invariants = ("retries_bounded_and_spread", "requests_complete")
    fault_kinds = ("outage",)
    rpc_ops = {("inventory", "get_stock"): lambda world, data: {"sku": data["sku"], "available": 5}}
    expected = {
        "reference": "pass",
        "no_jitter": "retries_bounded_and_spread",
        "no_cap": "retries_bounded_and_spread",
        "no_backoff": "retries_bounded_and_spread",
        "gives_up_too_soon": "requests_complete",
        "tiny_jitter": "retries_bounded_and_spread",
        "linear_no_jitter": "retries_bounded_and_spread",
        "off_by_one_cap": "retries_bounded_and_spread",
        "no_delay_cap": "retries_bounded_and_spread",
        "jitter_from_attempt": "retries_bounded_and_spread",
        "starter": "retries_bounded_and_spread",
    }

    CLIENTS_MIN = 40
    CLIENTS_MAX = 56
    START_SPREAD_MS = 40
    CAPACITY = 10  # calls per BUCKET_MS the recovering service can take
    BUCKET_MS = 100
    SPREAD_WINDOW_MS = 100
    SPREAD_LIMIT = 32  # most retries allowed in any SPREAD_WINDOW_MS once inventory is back
    MAX_ATTEMPTS_ALLOWED = 10
    PROBE_ATTEMPTS = 11
    MAX_DELAY_MS = 60_000
    MIN_OUTAGE_MS = 1_000
    MAX_SHORT_OUTAGE_MS = 2_500
    MIN_SUCCESS_PERCENT = (
        75  # after a short outage; a jittered policy may lose an unlucky client or two
    )
    NEVER = 10**9

    def statement_constants(self) -> dict[str, int | float | str]:
        out = super().statement_constants()
        out.pop("NEVER", None)
        out["CONSISTENCY_WINDOW_MS"] = HORIZON
        out["MAX_RETRIES"] = self.MAX_ATTEMPTS_ALLOWED - 1
        return out

    def overloaded(self, world: World, service: str) -> bool:
        return world.rpc.load.get(service, {}).get(world.now // self.BUCKET_MS, 0) > self.CAPACITY

    def setup(self, world: World) -> None:
        rng = world.rng
        # Every draw happens whatever the faults are, so a fault never shifts the data.
        clients = rng.randint(self.CLIENTS_MIN, self.CLIENTS_MAX)
        starts = [rng.randint(0, self.START_SPREAD_MS) for _ in range(clients)]
        short_end = rng.randint(self.MIN_OUTAGE_MS, self.MAX_SHORT_OUTAGE_MS)
        long = world.plan.fires("outage", "inventory:long", 0)
        end = self.NEVER if long else short_end
        world.outages["inventory"] = [(0, end)]
        world.notes["recovered_at"] = [end]
        world.notes["clients"] = [clients]
        world.log(
            "blocked",
            "inventory",
            "inventory is down for longer than the window"
            if long
            else f"inventory is down until t={end}",
        )
        requests, rands = [], []
        for i in range(clients):
            for n in range(1, self.PROBE_ATTEMPTS + 1):
                rand = rng.random()
                rands.append((i, n, rand))
                requests.append({"op": "pure", "fn": "retry_delay", "args": [n, rand]})
        # One round trip for the whole policy table (not cached: the random numbers differ per run).
        answer = world.guest("retry_delay", {"op": "batch", "requests": requests}, cache=False)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(requests):
            raise effects.GuestProtocolError(
                "invalid answer from the sandbox: batch results missing"
            )
        delays, problems = {}, []
        for (i, n, rand), raw in zip(rands, results):
            res = effects.pure_response(raw)
            value = res["value"]
            if not res["ok"]:
                problems.append(f"retry_delay({n}, {rand:.3f}) raised {res['error']}")
                value = None
            elif value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= self.MAX_DELAY_MS
            ):
                problems.append(
                    f"retry_delay({n}, {rand:.3f}) returned {value!r}: expected None or a number "
                    f"of ms between 0 and {self.MAX_DELAY_MS}"
                )
                value = None
            delays[(i, n)] = None if value is None else int(value)
        world.notes["policy_problems"] = problems[:3]
        world.notes["attempts"] = {}
        world.notes["delays"] = delays
        world.notes["retry_times"] = []
        for i in range(clients):
            world.sched.at(starts[i], self._attempt, world, i, 1)

    def _attempt(self, world: World, i: int, n: int) -> None:
        world.notes["attempts"][i] = n
        if n > 1:
            world.notes["retry_times"].append(world.now)
        answer = world.rpc.call(
            "clients", f"c{i}#{n}", "inventory", "get_stock", {"sku": "sku-1"}, None, f"corr-c{i}"
        )
        if answer["status"] == "ok":
            world.note("succeeded", i)
            return
        delay = world.notes["delays"].get((i, n)) if n <= self.PROBE_ATTEMPTS else None
        if delay is None:
            world.log(
                "dlq",
                "clients",
                f"client c{i} gives up after {n} attempts",
                {"correlation_id": f"corr-c{i}"},
            )
            world.note("gave_up", i)
            return
        if world.now + delay > HORIZON:
            # Bounded by the attempt cap, only waiting: the run ends with this client still trying
            # (it has not got through), rather than running past the window.
            world.note("still_waiting", i)
            return
        world.sched.after(delay, self._attempt, world, i, n + 1)

    def peak_after_recovery(self, world: World) -> tuple[int, int]:
        """(most retries in any SPREAD_WINDOW_MS from recovery on, where that window starts)."""
        back = world.notes["recovered_at"][0]
        times = sorted(t for t in world.notes.get("retry_times", []) if t >= back)
        best, start, lo = 0, back, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= self.SPREAD_WINDOW_MS:
                lo += 1
            if hi - lo + 1 > best:
                best, start = hi - lo + 1, times[lo]
        return best, start

    def facts(self, world: World) -> dict[str, Any]:
        clients = world.notes["clients"][0]
        problems = list(world.notes.get("policy_problems", []))
        delays = world.notes.get("delays", {})
        unbounded = [
            i for i in range(clients) if delays.get((i, self.MAX_ATTEMPTS_ALLOWED)) is not None
        ]
        if unbounded:
            problems.append(
                f"the policy does not give up: retry_delay({self.MAX_ATTEMPTS_ALLOWED}, rand) returned a "
                f"delay for {len(unbounded)} of {clients} clients (allowed: at most "
                f"{self.MAX_ATTEMPTS_ALLOWED} attempts, so None after attempt {self.MAX_ATTEMPTS_ALLOWED})"
            )
        peak, start = self.peak_after_recovery(world)
        if peak > self.SPREAD_LIMIT:
            problems.append(
                f"{peak} retries hit inventory in the {self.SPREAD_WINDOW_MS} ms from t={start}, after it "
                f"came back at t={world.notes['recovered_at'][0]} (capacity {self.CAPACITY} per "
                f"{self.BUCKET_MS} ms, allowed peak {self.SPREAD_LIMIT}): the retries are synchronised "
                f"or too fast"
            )
        complete = []
        if world.notes["recovered_at"][0] < self.NEVER:
            done = set(world.notes.get("succeeded", []))
            failed = [i for i in range(clients) if i not in done]
            allowed = clients * (100 - self.MIN_SUCCESS_PERCENT) // 100
            if len(failed) > allowed:
                complete.append(
                    f"{len(failed)} of {clients} clients did not get through although inventory was "
                    f"back at t={world.notes['recovered_at'][0]} (at least {self.MIN_SUCCESS_PERCENT}% "
                    f"must succeed)"
                )
        return {"retries_bounded_and_spread": problems, "requests_complete": complete}

    def extra_report(self, world: World | None) -> ExtraReport:
        return {"load": world.rpc.load_series("inventory") if world else []}


SCENARIO = RetryStorm()
