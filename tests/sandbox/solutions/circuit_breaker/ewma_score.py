# The failure rate as an exponentially weighted moving average (recent calls weigh most) instead of a list of outcomes.
WEIGHT = 0.25               # how much the newest outcome counts
MIN_CALLS = 5
OPEN_AT = 0.5               # open when the weighted failure rate reaches 50%
OPEN_MS = 1_500
TRIAL_CALLS = 2

CLOSED = {"mode": "closed", "score": 0.0, "seen": 0}


def allow_request(request, ctx):
    b = ctx.db.get("breaker", "inventory", CLOSED)
    if b["mode"] == "closed":
        return True
    if b["mode"] == "open":
        if ctx.now < b["until"]:
            return False
        b = {"mode": "half_open", "sent": 0, "ok": 0}
    if b["sent"] == TRIAL_CALLS:
        return False
    b["sent"] += 1
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", b)
    return True


def record_result(result, ctx):
    b = ctx.db.get("breaker", "inventory", CLOSED)
    good = result.data["ok"]
    if b["mode"] == "open":
        return
    if b["mode"] == "half_open":
        if not good:
            b = {"mode": "open", "until": ctx.now + OPEN_MS}
        else:
            b["ok"] += 1
            if b["ok"] == TRIAL_CALLS:
                b = dict(CLOSED)
    else:
        score = b["score"] * (1 - WEIGHT) + (0.0 if good else WEIGHT)
        seen = b["seen"] + 1
        if seen >= MIN_CALLS and score >= OPEN_AT:
            b = {"mode": "open", "until": ctx.now + OPEN_MS}
        else:
            b = {"mode": "closed", "score": score, "seen": seen}
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", b)
