OUTBOX = True
DEDUP = True
ORDER_TIMEOUT = False
REFUND_LATE = True
# Playground version of the choreographed order saga. The lesson toggles set
# OUTBOX, DEDUP, ORDER_TIMEOUT (the scenario runs the saga's timeout, which cancels an
# order still PENDING) and REFUND_LATE (a PaymentSucceeded for an order the timeout
# cancelled is refunded rather than dropped); the loader replaces the defaults above.
from saga_api import Context, DuplicateKey, Event, Transaction  # noqa: E402  (after the flags)

_pending: list[tuple[str, dict[str, object], str | None]] = []


def first_time(tx: Transaction, event: Event) -> bool:
    if not DEDUP:
        return True
    if tx.get("inbox", event.id):
        return False
    tx.insert("inbox", event.id, {"type": event.type})
    return True


def emit(tx: Transaction, type: str, data: dict[str, object], corr: str | None) -> None:
    if OUTBOX:
        tx.outbox(type, data, correlation_id=corr)  # commits with the state change
    else:
        _pending.append((type, data, corr))  # published after the commit (dual write)


def flush(ctx: Context) -> None:
    while _pending:
        type, data, corr = _pending.pop(0)
        ctx.publish(type, data, correlation_id=corr)


def place_order(command: Event, ctx: Context) -> None:
    order = command.data
    _pending.clear()
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            emit(tx, "OrderCreated", order, command.correlation_id)
    except DuplicateKey:
        _pending.clear()
    flush(ctx)


def on_inventory_failed(event: Event, ctx: Context) -> None:
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            tx.update("orders", event.data["order_id"], status="CANCELLED")


def on_payment_succeeded(event: Event, ctx: Context) -> None:
    _pending.clear()
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            if tx.get("orders", event.data["order_id"])["status"] != "CANCELLED":
                tx.update("orders", event.data["order_id"], status="CONFIRMED")
            elif REFUND_LATE:  # the timeout got there first: give the money and the stock back
                emit(tx, "RefundPayment", event.data, event.correlation_id)
                emit(tx, "ReleaseStock", event.data, event.correlation_id)
            # else dropped, like UPDATE ... WHERE status = 'PENDING' that matches no row
    flush(ctx)


def on_payment_failed(event: Event, ctx: Context) -> None:
    _pending.clear()
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            tx.update("orders", event.data["order_id"], status="CANCELLED")
            emit(tx, "ReleaseStock", event.data, event.correlation_id)
    flush(ctx)


def on_order_created(event: Event, ctx: Context) -> None:
    order = event.data
    _pending.clear()
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            stock = tx.get("stock", order["sku"])
            if stock["available"] >= order["qty"]:
                tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
                tx.insert(
                    "reservations",
                    order["order_id"] if DEDUP else ctx.new_id("res"),
                    {
                        "order_id": order["order_id"],
                        "sku": order["sku"],
                        "qty": order["qty"],
                        "status": "RESERVED",
                    },
                )
                emit(tx, "InventoryReserved", order, event.correlation_id)
            else:
                emit(tx, "InventoryFailed", order, event.correlation_id)
    flush(ctx)


def on_release_stock(event: Event, ctx: Context) -> None:
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        for key, r in tx.find("reservations", order_id=order_id, status="RESERVED"):
            stock = tx.get("stock", r["sku"])
            tx.update("stock", r["sku"], available=stock["available"] + r["qty"])
            tx.update("reservations", key, status="RELEASED")


def on_inventory_reserved(event: Event, ctx: Context) -> None:
    order = event.data
    _pending.clear()
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            account = tx.get("accounts", order["customer"])
            if account["balance"] >= order["amount"]:
                tx.update(
                    "accounts", order["customer"], balance=account["balance"] - order["amount"]
                )
                tx.insert(
                    "payments",
                    order["order_id"] if DEDUP else ctx.new_id("pay"),
                    {
                        "order_id": order["order_id"],
                        "amount": order["amount"],
                        "status": "CAPTURED",
                    },
                )
                emit(tx, "PaymentSucceeded", order, event.correlation_id)
            else:
                emit(tx, "PaymentFailed", order, event.correlation_id)
    flush(ctx)
