# Each outcome is a row of its own (read back with ctx.db.find, oldest pruned) and the breaker's state is a separate row.
from saga_api import NotFound

WINDOW_SIZE = 10
MIN_CALLS = 5
FAILURE_RATE_PERCENT = 50
OPEN_MS = 1_500
TRIAL_CALLS = 2


def state(ctx):
    return ctx.db.get("state", "inventory") or {"name": "closed", "changed_at": 0, "trials": 0, "passed": 0, "seq": 0}


def allow_request(request, ctx):
    s = state(ctx)
    if s["name"] == "closed":
        return True
    if s["name"] == "open" and ctx.now - s["changed_at"] < OPEN_MS:
        return False
    if s["name"] == "open":
        s.update(name="half_open", changed_at=ctx.now, trials=0, passed=0)
    if s["trials"] < TRIAL_CALLS:
        s["trials"] += 1
        with ctx.db.transaction() as tx:
            tx.put("state", "inventory", s)
        return True
    return False


def record_result(result, ctx):
    s = state(ctx)
    ok = result.data["ok"]
    with ctx.db.transaction() as tx:
        if s["name"] == "half_open":
            if ok:
                s["passed"] += 1
                if s["passed"] >= TRIAL_CALLS:
                    s.update(name="closed", changed_at=ctx.now)
                    for key, _ in tx.find("outcomes"):
                        tx.delete("outcomes", key)
            else:
                s.update(name="open", changed_at=ctx.now)
            tx.put("state", "inventory", s)
        elif s["name"] == "closed":
            s["seq"] += 1
            tx.insert("outcomes", f"{s['seq']:08d}", {"ok": ok})
            rows = tx.find("outcomes")
            for key, _ in rows[:-WINDOW_SIZE]:
                tx.delete("outcomes", key)
            recent = [row["ok"] for _, row in rows[-WINDOW_SIZE:]]
            bad = sum(1 for good in recent if not good)
            if len(recent) >= MIN_CALLS and bad * 100 >= FAILURE_RATE_PERCENT * len(recent):
                s.update(name="open", changed_at=ctx.now)
            tx.put("state", "inventory", s)
