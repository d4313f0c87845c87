# Checkout with try-confirm/cancel: hold the stock and authorize the card (try), then commit and
# capture (confirm). This version only handles the happy path. See the statement.
from saga_api import DuplicateKey


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "placed_at": ctx.now})
    except DuplicateKey:
        pass
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}",
                        correlation_id=command.correlation_id)

    stock = call("inventory", "hold")
    card = call("payment", "authorize") if stock["status"] == "held" else None
    if card is None or card["status"] != "authorized":
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED")   # what about the other try?
        return
    call("inventory", "commit")
    call("payment", "capture")
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED")
