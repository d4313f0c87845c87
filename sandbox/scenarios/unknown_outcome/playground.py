TOMBSTONE = True
RETRY_CLOSE = True
# Playground version of the unknown-outcome checkout. The lesson toggles set TOMBSTONE (give up
# with Payment's cancel, which leaves a tombstone, or with a plain refund) and RETRY_CLOSE (retry
# that compensation until Payment answers, or try it once); the loader replaces the defaults above.
from saga_api import Context, DuplicateKey, Event, RetryLater, Timeout  # noqa: E402  (after the flags)

GIVE_UP_MS = 3000
RETRY_MS = 300


def checkout(command: Event, ctx: Context) -> None:
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "placed_at": ctx.now})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] == "CANCELLED" and not row.get("payment_closed"):
        close_payment(ctx, order, corr)
        return
    if row["status"] != "PENDING":
        return
    try:
        answer = ctx.call(
            "payment", "capture", order, idempotency_key=f"capture-{oid}", correlation_id=corr
        )
    except Timeout:
        if ctx.now - row["placed_at"] < GIVE_UP_MS:
            raise RetryLater(RETRY_MS) from None
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED", payment_closed=False)
        close_payment(ctx, order, corr)
        return
    with ctx.db.transaction() as tx:
        if answer["status"] == "captured":
            tx.update("orders", oid, status="CONFIRMED")
        else:
            tx.update("orders", oid, status="CANCELLED", payment_closed=True)


def close_payment(ctx: Context, order: dict[str, object], corr: str | None) -> None:
    op = "cancel" if TOMBSTONE else "refund"
    oid = str(order["order_id"])
    try:
        ctx.call("payment", op, order, idempotency_key=f"{op}-{oid}", correlation_id=corr)
    except Timeout:
        if RETRY_CLOSE:
            raise RetryLater(RETRY_MS) from None
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, payment_closed=True)
