# A time-bucketed window (four 250 ms buckets of counts) instead of the last N calls; half-open counts trial calls in flight.
BUCKET_MS = 250
BUCKETS = 4                  # the window: the last second
MIN_CALLS = 5
FAILURE_RATE_PERCENT = 50
OPEN_MS = 1_500
TRIAL_CALLS = 2


def load(ctx):
    return ctx.db.get("breaker", "inventory") or {"state": "closed", "buckets": {}}


def store(ctx, row):
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", row)


def allow_request(request, ctx):
    row = load(ctx)
    if row["state"] == "open" and ctx.now - row["since"] >= OPEN_MS:
        row = {"state": "half_open", "in_flight": 0, "passed": 0}
    if row["state"] == "open":
        return False
    if row["state"] == "half_open":
        if row["in_flight"] >= TRIAL_CALLS:
            return False
        row["in_flight"] += 1
        store(ctx, row)
    return True


def record_result(result, ctx):
    row = load(ctx)
    failed = not result.data["ok"]
    if row["state"] == "open":
        return
    if row["state"] == "half_open":
        if failed:
            store(ctx, {"state": "open", "since": ctx.now})
            return
        row["in_flight"] -= 1
        row["passed"] += 1
        if row["passed"] >= TRIAL_CALLS:
            row = {"state": "closed", "buckets": {}}
        store(ctx, row)
        return
    current = ctx.now // BUCKET_MS
    buckets = {k: v for k, v in row["buckets"].items() if int(k) > current - BUCKETS}
    calls, failures = buckets.get(str(current), [0, 0])
    buckets[str(current)] = [calls + 1, failures + int(failed)]
    calls = sum(c for c, _ in buckets.values())
    failures = sum(f for _, f in buckets.values())
    if calls >= MIN_CALLS and 100 * failures >= FAILURE_RATE_PERCENT * calls:
        store(ctx, {"state": "open", "since": ctx.now})
    else:
        store(ctx, {"state": "closed", "buckets": buckets})
