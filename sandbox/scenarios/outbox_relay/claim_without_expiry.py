def relay_tick(tick, ctx):
    held_back = set()
    for key, row in ctx.db.find("outbox", sent=False):
        order = row["order_id"]
        if order in held_back:
            continue
        # Bug: a claim never expires. A relay that crashes after claiming a row and before marking
        # it leaves the claim behind, and every relay (itself too, once restarted) skips the row,
        # and with it every later event of that order, forever.
        if ctx.db.get("claims", key):
            held_back.add(order)
            continue
        with ctx.db.transaction() as tx:
            tx.insert("claims", key, {"owner": ctx.service})
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)
