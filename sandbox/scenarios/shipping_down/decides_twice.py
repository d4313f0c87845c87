from saga_api import DuplicateKey, Timeout, RetryLater

SHIPPING_DEADLINE_MS = 4_000


def checkout(command, ctx):
    # Bug: the choice between capture and void is made again on every delivery. After a
    # crash between voiding and cancelling, a retry that finds shipping back captures a
    # hold that is gone (confirmed without money), or the other way round.
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING", "since": ctx.now})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=corr)

    try:
        # Hold the money, don't take it, until shipping has accepted the order.
        if call("payment", "authorize")["status"] != "authorized":
            finish(ctx, oid, "CANCELLED", corr)
            return
        try:
            scheduled = call("shipping", "schedule")["status"] == "scheduled"
        except Timeout:
            if ctx.now - row["since"] < SHIPPING_DEADLINE_MS:
                raise RetryLater(1000)            # shipping is down: look again in a second
            scheduled = False
        if not scheduled:
            call("payment", "void")              # release the hold
            finish(ctx, oid, "CANCELLED", corr, cancel_shipment=True)
            return
        call("payment", "capture")
    except Timeout:
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr, cancel_shipment=False):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if cancel_shipment:
            # In case our schedule request got through after all: shipping cancels it
            # (and refuses it if it arrives later) whenever it is back.
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
