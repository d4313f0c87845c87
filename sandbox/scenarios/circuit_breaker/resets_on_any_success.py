FAILURES_TO_OPEN = 5        # open after this many failures ...
OPEN_MS = 1_500             # stay open (fail fast) this long, then try again
TRIAL_CALLS = 2             # half-open: this many trial calls, and all of them must succeed


def _breaker(ctx):
    return ctx.db.get("breaker", "inventory") or {"state": "closed", "failures": 0}


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
    if breaker["state"] == "half_open":
        if not ok:
            breaker = _open(ctx)
        else:
            breaker["passed"] += 1
            if breaker["passed"] >= TRIAL_CALLS:
                breaker = {"state": "closed", "failures": 0}
    elif breaker["state"] == "closed":
        if ok:
            # Bug: any success wipes the slate. The breaker counts failures *in a row*, so a
            # dependency that fails most calls, but lets one through now and then, never trips it.
            breaker["failures"] = 0
        else:
            breaker["failures"] += 1
            if breaker["failures"] >= FAILURES_TO_OPEN:
                breaker = _open(ctx)
    else:
        return
    _save(ctx, breaker)
