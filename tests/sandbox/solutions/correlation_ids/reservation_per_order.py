# Inventory dedups by a reservation row per order id (not the message id) and tolerates an audit timeout.
from saga_api import Timeout


def place_order(command, ctx):
    order_id = command.data["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("orders", order_id) is None:
            tx.insert("orders", order_id, {"status": "PENDING", **command.data})
            tx.outbox("OrderCreated", dict(command.data), correlation_id=command.correlation_id)


def on_order_created(event, ctx):
    corr = event.correlation_id
    order = event.data
    try:
        ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"}, correlation_id=corr)
    except Timeout:
        pass                # the audit trail is best effort; the reservation must not wait for it
    with ctx.db.transaction() as tx:
        if tx.get("reservations", order["order_id"]):
            return
        tx.insert("reservations", order["order_id"], {"sku": order["sku"], "qty": order["qty"]})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.outbox("InventoryReserved", order, correlation_id=corr)
