TWO_RELAYS = True
CLAIM = True
from saga_api import Context, Event  # noqa: E402  (the relay; TWO_RELAYS: relay-2 works too; CLAIM: claim rows first)

LEASE_MS = 1000


def relay_tick(tick: Event, ctx: Context) -> None:
    if not TWO_RELAYS and ctx.service != "relay-1":
        return  # only relay-1 is deployed; relay-2 stands by
    me = ctx.service
    held_back: set[str] = set()
    for key, row in ctx.db.find("outbox", sent=False):
        order = row["order_id"]
        if order in held_back:
            continue
        if CLAIM:
            claims = ctx.db.find("claims", row=key)
            last = max(claims, key=lambda kv: kv[1]["attempt"])[1] if claims else None
            if last and last["owner"] != me and last["until"] > ctx.now:
                held_back.add(order)
                continue
            attempt = last["attempt"] + 1 if last else 1
            with ctx.db.transaction() as tx:
                claim = {"row": key, "attempt": attempt, "owner": me, "until": ctx.now + LEASE_MS}
                tx.insert("claims", f"{key}#{attempt}", claim)
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
