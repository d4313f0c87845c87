# The saga's state lives in a separate "sagas" table and the order row is only written at the end; a declined payment is compensated by releasing and refunding by order (refunding nothing is harmless); keys come from the correlation id.
from saga_api import DuplicateKey, RetryLater, Timeout

TRANSIENT = {"busy"}


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    with ctx.db.transaction() as tx:
        saga = tx.get("sagas", oid)
        if saga is None:
            tx.insert("sagas", oid, {"state": "RUNNING"})
            tx.put("orders", oid, {**order, "status": "PENDING"})
            saga = {"state": "RUNNING"}
    if saga["state"] != "RUNNING":
        return
    try:
        reserved = ask(ctx, "inventory", "reserve", order, corr)
        if reserved == "reserved":
            captured = ask(ctx, "payment", "capture", order, corr)
            if captured == "captured":
                return close(ctx, oid, "CONFIRMED", corr)
            ask(ctx, "payment", "refund", order, corr)
            ask(ctx, "inventory", "release", order, corr)
        close(ctx, oid, "CANCELLED", corr)
    except Timeout:
        raise RetryLater(500)


def ask(ctx, service, op, order, corr):
    answer = ctx.call(service, op, order, idempotency_key=f"{corr}/{service}/{op}", correlation_id=corr)
    if answer["status"] in TRANSIENT:
        raise RetryLater(300)
    return answer["status"]


def close(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("sagas", oid, state=status)
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)
