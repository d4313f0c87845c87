from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            tx.outbox("OrderCreated", order)
    except DuplicateKey:
        pass


def on_order_created(event, ctx):
    order = event.data
    ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"})
    with ctx.db.transaction() as tx:
        if tx.get("inbox", event.id):
            return
        tx.insert("inbox", event.id, {})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.outbox("InventoryReserved", order)
