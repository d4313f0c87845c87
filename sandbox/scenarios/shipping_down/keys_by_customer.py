from saga_api import DuplicateKey, Timeout, RetryLater

SHIPPING_DEADLINE_MS = 4_000      # how long we may hold the customer's money waiting for shipping


def checkout(command, ctx):
    # Bug: the idempotency keys are built from the customer, not the order. A second
    # order of the same customer gets the first order's stored answers.
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING", "since": ctx.now, "outcome": None})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{order['customer']}", correlation_id=corr)

    try:
        outcome = row["outcome"]
        if outcome is None:
            # Hold the money, don't take it, until shipping has accepted the order.
            if call("payment", "authorize")["status"] != "authorized":
                finish(ctx, oid, "CANCELLED", corr)
                return
            try:
                scheduled = call("shipping", "schedule")["status"] == "scheduled"
            except Timeout:
                if ctx.now - row["since"] < SHIPPING_DEADLINE_MS:
                    raise RetryLater(500)         # shipping is down: look again soon
                scheduled = False
            # Decide once, durably: a retry after a crash must finish the same way, even if
            # shipping answers differently by then.
            outcome = "ship" if scheduled else "give up"
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, outcome=outcome)
        if outcome == "ship":
            call("payment", "capture")
            finish(ctx, oid, "CONFIRMED", corr)
        else:
            call("payment", "void")              # release the hold
            finish(ctx, oid, "CANCELLED", corr, cancel_shipment=True)
    except Timeout:
        raise RetryLater(300)


def finish(ctx, oid, status, corr, cancel_shipment=False):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if cancel_shipment:
            # In case our schedule request got through after all: shipping cancels it
            # (and refuses it if it arrives later) whenever it is back.
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
