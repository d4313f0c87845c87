# Checkout: capture the order's amount at Payment, then confirm or cancel the order.
# This version believes that a timeout means "not charged". See the statement.
from saga_api import DuplicateKey, Timeout


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
    try:
        answer = ctx.call("payment", "capture", order, idempotency_key=f"capture-{oid}",
                          correlation_id=command.correlation_id)
    except Timeout:
        answer = {"status": "timeout"}        # the bug to fix: the capture may have happened anyway
    with ctx.db.transaction() as tx:
        tx.update("orders", oid,
                  status="CONFIRMED" if answer["status"] == "captured" else "CANCELLED")
