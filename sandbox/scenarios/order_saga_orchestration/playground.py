OUTBOX = True
DEDUP = True
# Playground version of the orchestrated order saga. The lesson toggles set
# OUTBOX (outcome events through the outbox) and DEDUP (idempotency keys on calls).
from saga_api import Context, DuplicateKey, Event, RetryLater, Timeout  # noqa: E402


def handle_place_order(command: Event, ctx: Context) -> None:
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return

    def call(service: str, op: str) -> dict[str, object]:
        key = f"{op}-{oid}" if DEDUP else None
        return ctx.call(service, op, order, idempotency_key=key, correlation_id=corr)

    try:
        if call("inventory", "reserve")["status"] != "reserved":
            finish(ctx, oid, "CANCELLED", corr)
            return
        if call("payment", "capture")["status"] != "captured":
            call("inventory", "release")
            finish(ctx, oid, "CANCELLED", corr)
            return
    except Timeout:
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx: Context, oid: str, status: str, corr: str | None) -> None:
    event = "Order" + status.capitalize()
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if OUTBOX:
            tx.outbox(event, {"order_id": oid}, correlation_id=corr)
    if not OUTBOX:
        ctx.publish(event, {"order_id": oid}, correlation_id=corr)
