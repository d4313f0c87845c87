# Bug: a timeout is read as "not charged": the order is cancelled at once and Payment is never
# told. A capture that happened (reply lost) or that arrives later stays on the customer's card.
from saga_api import DuplicateKey, RetryLater, Timeout

GIVE_UP_MS = 3000   # keep trying this long before deciding without an answer


def backoff(command):
    return min(100 * 2 ** command.attempt, 1000)   # 200, 400, 800, then every second


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "placed_at": ctx.now})
    except DuplicateKey:
        pass                                   # redelivered: carry on from the saved state
    row = ctx.db.get("orders", oid)
    if row["status"] == "CANCELLED" and not row.get("payment_closed"):
        close_payment(ctx, command)            # the decision is made; finish its compensation
        return
    if row["status"] != "PENDING":
        return
    try:
        # Same key on every attempt: a retry can never capture twice.
        answer = ctx.call("payment", "capture", order,
                          idempotency_key=f"capture-{oid}", correlation_id=corr)
    except Timeout:
        # Unknown outcome: the capture may have happened, may still arrive, or may be lost.
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED", payment_closed=True)
        return
    with ctx.db.transaction() as tx:
        if answer["status"] == "captured":
            tx.update("orders", oid, status="CONFIRMED")
        else:                                  # declined
            tx.update("orders", oid, status="CANCELLED", payment_closed=True)


def close_payment(ctx, command):
    """After the decision: a step that must succeed, so it is retried until it does. Cancel
    refunds a capture that happened and leaves a tombstone that refuses one still on its way."""
    order = command.data
    try:
        ctx.call("payment", "cancel", order, idempotency_key=f"cancel-{order['order_id']}",
                 correlation_id=command.correlation_id)
    except Timeout:
        raise RetryLater(backoff(command))
    with ctx.db.transaction() as tx:
        tx.update("orders", order["order_id"], payment_closed=True)
