# Keeps the correlation id in the order row and emits from the row; Inventory dedups by catching DuplicateKey.
from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        if tx.get("orders", order["order_id"]):
            return
        row = {**order, "status": "PENDING", "correlation_id": command.correlation_id}
        tx.insert("orders", order["order_id"], row)
        tx.outbox("OrderCreated", order, correlation_id=row["correlation_id"])


def on_order_created(event, ctx):
    order = event.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("inbox", event.id, {"correlation_id": event.correlation_id})
            available = tx.get("stock", order["sku"])["available"]
            tx.update("stock", order["sku"], available=available - order["qty"])
            tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)
    except DuplicateKey:
        pass
    # Audit after the reservation: a repeat (or a retry after a timeout) records the step again.
    ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"},
             correlation_id=event.correlation_id)
