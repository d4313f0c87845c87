# Takes the money at once (payment.charge) and refunds it if shipping has not accepted within a deadline kept below the allowed window.
from saga_api import DuplicateKey, Timeout, RetryLater

REFUND_AFTER_MS = 6_000


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            # The refund clock starts before the charge: if its reply is lost, the money was taken
            # earlier than this code learns about it.
            tx.insert("orders", oid, {"status": "PENDING", "step": "charge", "since": ctx.now})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{oid}:{op}", correlation_id=corr)

    try:
        if row["step"] == "charge":
            if call("payment", "charge")["status"] != "captured":
                close(ctx, oid, "CANCELLED", corr)
                return
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, step="ship")
            row = ctx.db.get("orders", oid)
        if row["step"] == "ship":
            try:
                answer = call("shipping", "schedule")["status"]
            except Timeout:
                if ctx.now - row["since"] < REFUND_AFTER_MS:
                    raise RetryLater(500)
                answer = "gave up"
            # The step after this one is fixed before it starts: a retry finishes what was chosen.
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, step="confirm" if answer == "scheduled" else "refund")
            row = ctx.db.get("orders", oid)
        if row["step"] == "refund":
            call("payment", "refund")
            close(ctx, oid, "CANCELLED", corr, cancel_shipment=True)
            return
    except Timeout:
        raise RetryLater(200)
    close(ctx, oid, "CONFIRMED", corr)


def close(ctx, oid, status, corr, cancel_shipment=False):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if cancel_shipment:
            tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
