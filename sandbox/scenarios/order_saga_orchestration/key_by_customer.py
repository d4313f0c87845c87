# Bug: idempotency keys built from the customer, not the order: a customer's second order
# gets the first order's stored answers replayed ("captured") without anything happening.
from saga_api import DuplicateKey, Timeout, RetryLater


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    except DuplicateKey:
        pass                                   # redelivered: resume the saga
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return                                 # already finished

    def call(service, op):
        # Same key on every retry, so a repeated call replays the first result.
        return ctx.call(service, op, order, idempotency_key=f"{op}-{order['customer']}", correlation_id=corr)

    try:
        reserved = call("inventory", "reserve")
        if reserved["status"] == "busy":
            raise RetryLater(300)              # transient: nothing was done, ask again later
        if reserved["status"] != "reserved":
            finish(ctx, oid, "CANCELLED", corr)
            return
        captured = call("payment", "capture")
        if captured["status"] == "busy":
            raise RetryLater(300)
        if captured["status"] != "captured":
            call("inventory", "release")       # compensate the reservation
            finish(ctx, oid, "CANCELLED", corr)
            return
    except Timeout:
        # We do not know whether the other side acted: try again later with the same keys.
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)
