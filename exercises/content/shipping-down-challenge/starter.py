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
        # Take the payment, then book the shipment.
        if call("payment", "charge")["status"] != "captured":
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, status="CANCELLED")
            return
        call("shipping", "schedule")
    except Timeout:
        raise RetryLater(500)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED")
