# Retries a timed-out or busy call a few times inside the same delivery before falling back to RetryLater, and checks the order row instead of catching DuplicateKey.
from saga_api import RetryLater, Timeout


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    row = ctx.db.get("orders", oid)
    if row is None:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    elif row["status"] in ("CONFIRMED", "CANCELLED"):
        return
    if call(ctx, "inventory", "reserve", order, corr) == "out_of_stock":
        return end(ctx, oid, "CANCELLED", corr)
    if call(ctx, "payment", "capture", order, corr) == "declined":
        call(ctx, "inventory", "release", order, corr)
        return end(ctx, oid, "CANCELLED", corr)
    end(ctx, oid, "CONFIRMED", corr)


def call(ctx, service, op, order, corr):
    for _ in range(3):
        try:
            answer = ctx.call(service, op, order, idempotency_key=op + ":" + order["order_id"],
                              correlation_id=corr)
        except Timeout:
            continue
        if answer["status"] != "busy":
            return answer["status"]
    raise RetryLater(700)                  # still unsure: the whole command comes back later


def end(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox({"CONFIRMED": "OrderConfirmed", "CANCELLED": "OrderCancelled"}[status], {"order_id": oid},
                  correlation_id=corr)
