LEASE_MS = 1000


def relay_tick(tick, ctx):
    me = ctx.service
    held_back = set()
    for key, row in ctx.db.find("outbox", sent=False):
        order = row["order_id"]
        if order in held_back:
            continue
        claims = ctx.db.find("claims", row=key)
        last = max(claims, key=lambda kv: kv[1]["attempt"])[1] if claims else None
        if last and last["owner"] != me and last["until"] > ctx.now:
            held_back.add(order)
            continue
        attempt = last["attempt"] + 1 if last else 1
        # Bug: the row is marked sent in the claim's transaction, before it is published. A crash
        # between this commit and the publish leaves a row marked sent that nobody ever published.
        with ctx.db.transaction() as tx:
            tx.insert("claims", f"{key}#{attempt}",
                      {"row": key, "attempt": attempt, "owner": me, "until": ctx.now + LEASE_MS})
            tx.update("outbox", key, sent=True)
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
