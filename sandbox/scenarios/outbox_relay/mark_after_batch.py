LEASE_MS = 1000


def relay_tick(tick, ctx):
    me = ctx.service
    held_back = set()
    published = []
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
        with ctx.db.transaction() as tx:
            tx.insert("claims", f"{key}#{attempt}",
                      {"row": key, "attempt": attempt, "owner": me, "until": ctx.now + LEASE_MS})
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        published.append(key)
    # Bug: the whole batch is marked at the end. A crash anywhere before this commit leaves every
    # row published so far unmarked, and all of them are published again.
    with ctx.db.transaction() as tx:
        for key in published:
            tx.update("outbox", key, sent=True)
