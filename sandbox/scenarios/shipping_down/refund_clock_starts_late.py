from saga_api import DuplicateKey, Timeout, RetryLater

REFUND_AFTER_MS = 9_800


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=corr)

    try:
        # Capture now, refund if shipping has not accepted in time.
        # Bug: the refund clock starts when the charge is confirmed, not before it was asked
        # for: after a lost reply the money was taken earlier, and the refund comes too late.
        if call("payment", "charge")["status"] != "captured":
            finish(ctx, oid, "CANCELLED", corr)
            return
        if "charged_at" not in row:
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, charged_at=ctx.now)
            row = ctx.db.get("orders", oid)
        try:
            scheduled = call("shipping", "schedule")["status"] == "scheduled"
        except Timeout:
            if ctx.now - row["charged_at"] < REFUND_AFTER_MS:
                raise RetryLater(500)
            scheduled = False
        if not scheduled:
            call("payment", "refund")
            finish(ctx, oid, "CANCELLED", corr, cancel_shipment=True)
            return
    except Timeout:
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr, cancel_shipment=False):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if cancel_shipment:
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
