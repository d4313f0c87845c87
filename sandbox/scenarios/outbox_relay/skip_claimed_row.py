LEASE_MS = 1000


def relay_tick(tick, ctx):
    me = ctx.service
    for key, row in ctx.db.find("outbox", sent=False):
        claims = ctx.db.find("claims", row=key)
        last = max(claims, key=lambda kv: kv[1]["attempt"])[1] if claims else None
        if last and last["owner"] != me and last["until"] > ctx.now:
            # Bug: skips the claimed row but goes on with the next rows, including later events of
            # the same order, which then overtake the one the other relay holds.
            continue
        attempt = last["attempt"] + 1 if last else 1
        with ctx.db.transaction() as tx:
            tx.insert("claims", f"{key}#{attempt}",
                      {"row": key, "attempt": attempt, "owner": me, "until": ctx.now + LEASE_MS})
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
