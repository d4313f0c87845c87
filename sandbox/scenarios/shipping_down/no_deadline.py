from saga_api import DuplicateKey, Timeout, RetryLater


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=corr)

    try:
        if call("payment", "authorize")["status"] != "authorized":
            finish(ctx, oid, "CANCELLED", corr)
            return
        # Bug: holds the money and waits for shipping for as long as it takes. The hold is
        # not a charge, but during a long outage the order stays PENDING far past its deadline.
        if call("shipping", "schedule")["status"] != "scheduled":
            call("payment", "void")
            finish(ctx, oid, "CANCELLED", corr, cancel_shipment=True)
            return
        call("payment", "capture")
    except Timeout:
        raise RetryLater(1000)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr, cancel_shipment=False):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if cancel_shipment:
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
