LEASE_MS = 1000


def relay_tick(tick, ctx):
    me = ctx.service
    # One leader at a time: the newest lease row says who. A lease that ran out is taken over by
    # inserting the next generation; two relays inserting the same key: the store refuses one.
    leases = ctx.db.find("leader")
    lease = max(leases, key=lambda kv: kv[1]["gen"])[1] if leases else None
    if lease and lease["until"] > ctx.now:
        if lease["owner"] != me:
            return
        with ctx.db.transaction() as tx:
            tx.update("leader", f"gen-{lease['gen']}", until=ctx.now + LEASE_MS)
    else:
        gen = lease["gen"] + 1 if lease else 1
        with ctx.db.transaction() as tx:
            tx.insert("leader", f"gen-{gen}", {"gen": gen, "owner": me, "until": ctx.now + LEASE_MS})
    # Bug: remembers the last key it published and only looks past it. A transaction that took an
    # earlier key but committed later (keys are handed out at insert, not at commit) is never seen.
    cursor = ctx.db.get("cursor", "outbox")
    last = cursor["key"] if cursor else ""
    for key, row in ctx.db.find("outbox"):
        if key <= last:
            continue
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
            tx.put("cursor", "outbox", {"key": key})
