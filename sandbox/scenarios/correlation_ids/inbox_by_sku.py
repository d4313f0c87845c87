from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            # Carry the id of the business operation, never invent a new one.
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass


def on_order_created(event, ctx):
    order = event.data
    corr = event.correlation_id
    ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"}, correlation_id=corr)
    with ctx.db.transaction() as tx:
        # Bug: "one reservation per product": a second order for the same SKU is taken for a
        # duplicate, so its stock is never reserved and InventoryReserved never sent.
        if tx.get("inbox", order["sku"]):
            return
        tx.insert("inbox", order["sku"], {})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.outbox("InventoryReserved", order, correlation_id=corr)
