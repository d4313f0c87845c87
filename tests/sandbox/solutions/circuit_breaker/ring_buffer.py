# A fixed ring buffer of the last 10 outcomes with a running failure count, and one function that does the bookkeeping for both entry points.
SIZE = 10
MIN_CALLS = 5
OPEN_MS = 1_500
TRIAL_CALLS = 2


def _get(ctx):
    return ctx.db.get("cb", "inventory") or {
        "state": "CLOSED", "ring": [None] * SIZE, "pos": 0, "failed": 0, "count": 0,
        "opened": None, "trials": 0, "good": 0,
    }


def _put(ctx, cb):
    with ctx.db.transaction() as tx:
        tx.put("cb", "inventory", cb)


def _trip(cb, now):
    cb.update(state="OPEN", opened=now, ring=[None] * SIZE, pos=0, failed=0, count=0)


def allow_request(request, ctx):
    cb = _get(ctx)
    if cb["state"] == "OPEN":
        if ctx.now < cb["opened"] + OPEN_MS:
            return False
        cb.update(state="HALF_OPEN", trials=0, good=0)
    if cb["state"] == "HALF_OPEN":
        allowed = cb["trials"] < TRIAL_CALLS
        cb["trials"] += allowed
        _put(ctx, cb)
        return allowed
    return True


def record_result(result, ctx):
    cb = _get(ctx)
    ok = bool(result.data["ok"])
    if cb["state"] == "HALF_OPEN":
        if not ok:
            _trip(cb, ctx.now)
        else:
            cb["good"] += 1
            if cb["good"] == TRIAL_CALLS:
                cb.update(state="CLOSED")
        _put(ctx, cb)
    elif cb["state"] == "CLOSED":
        old = cb["ring"][cb["pos"]]
        if old is False:
            cb["failed"] -= 1
        cb["ring"][cb["pos"]] = ok
        cb["pos"] = (cb["pos"] + 1) % SIZE
        cb["failed"] += not ok
        cb["count"] = min(SIZE, cb["count"] + 1)
        if cb["count"] >= MIN_CALLS and 2 * cb["failed"] >= cb["count"]:
            _trip(cb, ctx.now)
        _put(ctx, cb)
