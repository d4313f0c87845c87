LEASE_MS = 1000


def relay_tick(tick, ctx):
    me = ctx.service
    held_back = set()
    for key, row in ctx.db.find("outbox", sent=False):
        order = row["order_id"]
        if order in held_back:
            continue
        if row.get("owner") not in (None, me) and row.get("until", 0) > ctx.now:
            held_back.add(order)
            continue
        # Bug: the claim is a plain update of the row. Two relays that read the row at the same
        # time both "claim" it (the later write simply wins) and both publish it.
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, owner=me, until=ctx.now + LEASE_MS)
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
