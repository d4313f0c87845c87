FAILURES_TO_OPEN = 5        # open after this many failures ...
OPEN_MS = 1_500             # stay open (fail fast) this long, then try again
TRIAL_CALLS = 2             # half-open: this many trial calls, and all of them must succeed


def _breaker(ctx):
    return ctx.db.get("breaker", "inventory") or {"state": "closed"}


def _save(ctx, breaker):
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", breaker)


def _open(ctx):
    return {"state": "open", "opened_at": ctx.now}


def allow_request(request, ctx):
    breaker = _breaker(ctx)
    if breaker["state"] == "open":
        if ctx.now - breaker["opened_at"] < OPEN_MS:
            return False
        breaker = {"state": "half_open", "trials": 0, "passed": 0}
    if breaker["state"] == "half_open":
        if breaker["trials"] >= TRIAL_CALLS:
            return False
        breaker["trials"] += 1
        _save(ctx, breaker)
    return True


def record_result(result, ctx):
    breaker = _breaker(ctx)
    ok = result.data["ok"]
    # Bug: failures are counted for ever, with no window and no reset. Once the first outage
    # has pushed the count past the threshold, every isolated error trips the breaker again.
    failed = (ctx.db.get("stats", "inventory") or {"failures": 0})["failures"]
    if not ok:
        failed += 1
        with ctx.db.transaction() as tx:
            tx.put("stats", "inventory", {"failures": failed})
    if breaker["state"] == "half_open":
        if not ok:
            breaker = _open(ctx)
        else:
            breaker["passed"] += 1
            if breaker["passed"] >= TRIAL_CALLS:
                breaker = {"state": "closed"}
    elif breaker["state"] == "closed":
        if failed >= FAILURES_TO_OPEN:
            breaker = _open(ctx)
    else:
        return
    _save(ctx, breaker)
