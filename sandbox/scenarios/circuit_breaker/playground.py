BREAKER = True
TRIAL_LIMIT = True
WINDOW = True
# Playground version of the Gateway's circuit breaker. Toggles: BREAKER (off: every request is sent
# to Inventory), TRIAL_LIMIT (off: half-open sends every request until a trial call comes back) and
# WINDOW (off: failures are counted for ever instead of over the last WINDOW_SIZE calls).
from typing import Any  # noqa: E402  (the flag defaults come first)

from saga_api import Context, Request  # noqa: E402

WINDOW_SIZE = 10
MIN_CALLS = 5
FAILURE_RATE_PERCENT = 50
OPEN_MS = 1_500
TRIAL_CALLS = 2


def _breaker(ctx: Context) -> dict[str, Any]:
    row: dict[str, Any] = ctx.db.get("breaker", "inventory") or {
        "state": "closed",
        "outcomes": [],
        "failures": 0,
    }
    return row


def _save(ctx: Context, breaker: dict[str, Any]) -> None:
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", breaker)


def allow_request(request: Request, ctx: Context) -> bool:
    if not BREAKER:
        return True
    breaker = _breaker(ctx)
    if breaker["state"] == "open":
        if ctx.now - breaker["opened_at"] < OPEN_MS:
            return False
        breaker.update(state="half_open", trials=0, passed=0)
    if breaker["state"] == "half_open":
        if TRIAL_LIMIT and breaker["trials"] >= TRIAL_CALLS:
            return False
        breaker["trials"] += 1
        _save(ctx, breaker)
    return True


def record_result(result: Request, ctx: Context) -> None:
    if not BREAKER:
        return
    breaker = _breaker(ctx)
    ok = bool(result.data["ok"])
    if not WINDOW and not ok:
        breaker["failures"] += 1  # never forgotten: no window, no reset
    if breaker["state"] == "half_open":
        if not ok:
            breaker.update(state="open", opened_at=ctx.now)
        else:
            breaker["passed"] += 1
            if breaker["passed"] >= TRIAL_CALLS:
                breaker.update(state="closed", outcomes=[])
    elif breaker["state"] == "closed":
        outcomes = (breaker["outcomes"] + [ok])[-WINDOW_SIZE:]
        failures = outcomes.count(False) if WINDOW else breaker["failures"]
        if WINDOW:
            rate = failures * 100 >= FAILURE_RATE_PERCENT * len(outcomes)
            trip = len(outcomes) >= MIN_CALLS and rate
        else:
            trip = failures >= MIN_CALLS
        if trip:
            breaker.update(state="open", opened_at=ctx.now)
        else:
            breaker["outcomes"] = outcomes
    _save(ctx, breaker)
