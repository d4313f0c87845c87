# One leader publishes everything: the newest row of a "leader" table names it; when its lease runs out another relay takes over with the next generation.
LEASE_MS = 600


def relay_tick(tick, ctx):
    me = ctx.service
    current = None
    for _, lease in ctx.db.find("leader"):
        if current is None or lease["gen"] > current["gen"]:
            current = lease
    if current is not None and current["until"] > ctx.now:
        if current["owner"] != me:
            return                          # someone else leads
        with ctx.db.transaction() as tx:    # still mine: extend it
            tx.update("leader", str(current["gen"]), until=ctx.now + LEASE_MS)
    else:
        gen = 1 if current is None else current["gen"] + 1
        with ctx.db.transaction() as tx:    # two relays inserting the same generation: one is refused
            tx.insert("leader", str(gen), {"gen": gen, "owner": me, "until": ctx.now + LEASE_MS})
    for key, row in ctx.db.find("outbox", sent=False):
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
