# Books the shipment first and only then charges; a declined card cancels the booked shipment through the outbox.
from saga_api import DuplicateKey, Timeout, RetryLater

WAIT_FOR_SHIPPING_MS = 12_000


def checkout(command, ctx):
    data = command.data
    oid = data["order_id"]
    with ctx.db.transaction() as tx:
        if not tx.get("orders", oid):
            tx.insert("orders", oid, {"status": "PENDING", "placed_at": ctx.now})
    row = ctx.db.get("orders", oid)
    if row["status"] in ("CONFIRMED", "CANCELLED"):
        return
    key = lambda op: "checkout/" + oid + "/" + op
    try:
        try:
            booked = ctx.call("shipping", "schedule", data, idempotency_key=key("schedule"),
                              correlation_id=command.correlation_id)["status"] == "scheduled"
        except Timeout:
            if ctx.now - row["placed_at"] < WAIT_FOR_SHIPPING_MS:
                raise RetryLater(750)
            booked = False
        if not booked:
            end(ctx, oid, "CANCELLED", command.correlation_id)
            return
        paid = ctx.call("payment", "charge", data, idempotency_key=key("charge"),
                        correlation_id=command.correlation_id)["status"] == "captured"
    except Timeout:
        raise RetryLater(250)
    end(ctx, oid, "CONFIRMED" if paid else "CANCELLED", command.correlation_id)


def end(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if status == "CANCELLED":
            # Also covers a schedule request that got through although we timed out.
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
