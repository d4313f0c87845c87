WINDOW_SIZE = 10            # judge the breaker on the last 10 calls ...
MIN_CALLS = 5               # ... once there are at least 5 of them
FAILURE_RATE_PERCENT = 50   # open when at least half of them failed
OPEN_MS = 1_500             # stay open (fail fast) this long, then try again
TRIAL_CALLS = 2             # half-open: this many trial calls, and all of them must succeed


def _breaker(ctx):
    # Every call runs in a fresh process: the breaker lives in the gateway's database.
    return ctx.db.get("breaker", "inventory") or {"state": "closed", "outcomes": []}


def _save(ctx, breaker):
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", breaker)


def _open(ctx):
    return {"state": "open", "opened_at": ctx.now}


def allow_request(request, ctx):
    breaker = _breaker(ctx)
    if breaker["state"] == "open":
        if ctx.now - breaker["opened_at"] < OPEN_MS:
            return False                        # open: fail fast, no call, no waiting
        breaker = {"state": "half_open", "trials": 0, "passed": 0}
    if breaker["state"] == "half_open":
        if breaker["trials"] >= TRIAL_CALLS:
            return False                        # the trial calls are out: wait for them
        breaker["trials"] += 1
        _save(ctx, breaker)
    return True                                 # closed, or a trial call


def record_result(result, ctx):
    breaker = _breaker(ctx)
    ok = result.data["ok"]
    if breaker["state"] == "half_open":
        if not ok:
            breaker = _open(ctx)                # a trial failed: open again
        else:
            breaker["passed"] += 1
            if breaker["passed"] >= TRIAL_CALLS:
                breaker = {"state": "closed", "outcomes": []}   # every trial passed: close
    elif breaker["state"] == "closed":
        outcomes = (breaker["outcomes"] + [ok])[-WINDOW_SIZE:]   # a sliding window of calls
        failures = outcomes.count(False)
        # Bug: a fraction (0 to 1) compared with a percentage (50): never true, so the
        # breaker never opens and every request keeps waiting on a dead Inventory.
        if len(outcomes) >= MIN_CALLS and failures / len(outcomes) >= FAILURE_RATE_PERCENT:
            breaker = _open(ctx)
        else:
            breaker["outcomes"] = outcomes
    else:
        return                                  # open: a late answer to a call sent before it opened
    _save(ctx, breaker)
