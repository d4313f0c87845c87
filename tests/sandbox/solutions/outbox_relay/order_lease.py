# A lease per order instead of a claim per row: the relay that holds an order's lease publishes all of its unsent events, in key order.
LEASE_MS = 800


def take_or_renew(ctx, order):
    """True if this relay now holds the order's lease."""
    leases = ctx.db.find("order_leases", order=order)
    lease = max(leases, key=lambda kv: kv[1]["gen"])[1] if leases else None
    until = ctx.now + LEASE_MS
    with ctx.db.transaction() as tx:
        if lease and lease["until"] > ctx.now:
            if lease["owner"] != ctx.service:
                return False
            tx.update("order_leases", f"{order}#{lease['gen']}", until=until)
        else:
            gen = lease["gen"] + 1 if lease else 1
            tx.insert("order_leases", f"{order}#{gen}",
                      {"order": order, "gen": gen, "owner": ctx.service, "until": until})
    return True


def relay_tick(tick, ctx):
    rows = ctx.db.find("outbox", sent=False)
    orders = []
    for _, row in rows:
        if row["order_id"] not in orders:
            orders.append(row["order_id"])
    for order in orders:
        if not take_or_renew(ctx, order):
            continue
        for key, row in rows:
            if row["order_id"] == order:
                ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
                with ctx.db.transaction() as tx:
                    tx.update("outbox", key, sent=True)
