from ... import effects
from ..base import Scenario

CLIENTS = 40
CAPACITY = 10              # requests per 100 ms bucket the recovering service can take
SPREAD_LIMIT = 32          # peak retries per 100 ms bucket that still counts as "spread" (80% of clients)
MAX_ATTEMPTS_ALLOWED = 10
PROBE_ATTEMPTS = 11
MAX_DELAY_MS = 60_000
MIN_SUCCESS_PERCENT = 90   # after a short outage; a jittered policy may rarely lose an unlucky client


class RetryStorm(Scenario):
    name = "retry_storm"
    title = "Retry storm"
    summary = ("Forty clients call the Inventory API just as it goes down for a couple of seconds. Write "
               "their retry policy, retry_delay(attempt, rand): how long to wait before retry number "
               "`attempt`, or None to give up. Retries must be bounded and spread out so the recovering "
               "service is not flattened.")
    lanes = ("clients", "inventory")
    functions = ("retry_delay",)
    signatures = {"retry_delay": "retry_delay(attempt, rand)"}
    invariants = ("retries_bounded_and_spread", "requests_complete")
    fault_kinds = ("outage",)
    rpc_ops = {("inventory", "get_stock"): lambda world, data: {"sku": data["sku"], "available": 5}}
    expected = {"reference": "pass", "no_jitter": "retries_bounded_and_spread",
                "no_cap": "retries_bounded_and_spread", "no_backoff": "retries_bounded_and_spread", "gives_up_too_soon": "requests_complete",
                "starter": "retries_bounded_and_spread"}

    def overloaded(self, world, service):
        return world.rpc.load.get(service, {}).get(world.now // 100, 0) > CAPACITY

    def setup(self, world):
        long = world.plan.fires("outage", "inventory:long", 0)
        end = 10 ** 9 if long else world.rng.randint(1000, 2500)
        world.outages["inventory"] = [(0, end)]
        world.notes["recovered_at"] = [end]
        world.log("blocked", "inventory", f"inventory is down until t={end}")
        requests, rands = [], []
        for i in range(CLIENTS):
            for n in range(1, PROBE_ATTEMPTS + 1):
                rand = world.rng.random()
                rands.append((i, n, rand))
                requests.append({"op": "pure", "fn": "retry_delay", "args": [n, rand]})
        # One round trip for the whole policy table (not cached: the random numbers differ per run).
        answer = world.guest("retry_delay", {"op": "batch", "requests": requests}, cache=False)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(requests):
            raise effects.GuestProtocolError("invalid answer from the sandbox: batch results missing")
        delays, problems = {}, []
        for (i, n, rand), raw in zip(rands, results):
            res = effects.pure_response(raw)
            value = res["value"]
            if not res["ok"]:
                problems.append(f"retry_delay({n}, {rand:.3f}) raised {res['error']}")
                value = None
            elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                        or not 0 <= value <= MAX_DELAY_MS):
                problems.append(f"retry_delay({n}, {rand:.3f}) returned {value!r}: expected None or a number "
                                f"of ms between 0 and {MAX_DELAY_MS}")
                value = None
            delays[(i, n)] = None if value is None else int(value)
        world.notes["policy_problems"] = problems[:3]
        world.notes["attempts"] = {}
        world.notes["delays"] = delays
        for i in range(CLIENTS):
            world.sched.at(world.rng.randint(0, 40), self._attempt, world, i, 1)

    def _attempt(self, world, i, n):
        world.notes["attempts"][i] = n
        if n > 1:
            retries = world.notes.setdefault("retries", {})
            retries[world.now // 100] = retries.get(world.now // 100, 0) + 1
        answer = world.rpc.call("clients", f"c{i}#{n}", "inventory", "get_stock", {"sku": "sku-1"},
                                None, f"corr-c{i}")
        if answer["status"] == "ok":
            world.note("succeeded", i)
            return
        delay = world.notes["delays"].get((i, n)) if n <= PROBE_ATTEMPTS else None
        if delay is None:
            world.log("dlq", "clients", f"client c{i} gives up after {n} attempts", {"correlation_id": f"corr-c{i}"})
            world.note("gave_up", i)
            return
        world.sched.after(delay, self._attempt, world, i, n + 1)

    def facts(self, world):
        problems = list(world.notes.get("policy_problems", []))
        delays = world.notes.get("delays", {})
        unbounded = [i for i in range(CLIENTS) if delays.get((i, MAX_ATTEMPTS_ALLOWED)) is not None]
        if unbounded:
            problems.append(f"the policy never gives up: it still retries after attempt {MAX_ATTEMPTS_ALLOWED} "
                            f"(allowed: at most {MAX_ATTEMPTS_ALLOWED} attempts)")
        retries = world.notes.get("retries", {})
        if retries:
            bucket, peak = max(retries.items(), key=lambda bn: (bn[1], -bn[0]))
            if peak > SPREAD_LIMIT:
                problems.append(f"{peak} retries hit inventory in the 100 ms from t={bucket * 100} "
                                f"(capacity {CAPACITY}, allowed peak {SPREAD_LIMIT}): the retries are synchronised "
                                f"or too fast")
        complete = []
        if world.notes["recovered_at"][0] < 10 ** 9:
            done = set(world.notes.get("succeeded", []))
            failed = [i for i in range(CLIENTS) if i not in done]
            if len(failed) > CLIENTS * (100 - MIN_SUCCESS_PERCENT) // 100:
                complete.append(f"{len(failed)} of {CLIENTS} clients gave up although inventory was back at "
                                f"t={world.notes['recovered_at'][0]} (at least {MIN_SUCCESS_PERCENT}% must get "
                                f"through)")
        return {"retries_bounded_and_spread": problems, "requests_complete": complete}

    def extra_report(self, world):
        return {"load": world.rpc.load_series("inventory") if world else []}


SCENARIO = RetryStorm()
