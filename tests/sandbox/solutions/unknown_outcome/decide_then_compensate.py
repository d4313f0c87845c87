# Splits the saga into its two kinds of step: forward() may give up and decide (a status change, written once); compensate() can only go forward and is retried until Payment answers. The clock is read from the order row ("since"), the wait doubles up to 1.6 s, and the pending compensation is a flag on the order.
from saga_api import DuplicateKey, RetryLater, Timeout

PATIENCE_MS = 2600


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "since": ctx.now, "closing": False})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["closing"]:
        compensate(ctx, command)
    elif row["status"] == "PENDING":
        forward(ctx, command, row)


def wait(command):
    return min(100 * 2 ** (command.attempt - 1), 1600)


def forward(ctx, command, row):
    order, oid = command.data, command.data["order_id"]
    try:
        result = ctx.call("payment", "capture", order, idempotency_key=f"{oid}/capture",
                          correlation_id=command.correlation_id)
    except Timeout:
        if ctx.now - row["since"] < PATIENCE_MS:
            raise RetryLater(wait(command))
        with ctx.db.transaction() as tx:       # the decision: no way back after this
            tx.update("orders", oid, status="CANCELLED", closing=True)
        compensate(ctx, command)
        return
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED" if result["status"] == "captured" else "CANCELLED")


def compensate(ctx, command):
    order, oid = command.data, command.data["order_id"]
    try:
        ctx.call("payment", "cancel", order, idempotency_key=f"{oid}/cancel",
                 correlation_id=command.correlation_id)
    except Timeout:
        raise RetryLater(wait(command))
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, closing=False)
