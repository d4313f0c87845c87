def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        # Bug: put never complains about a repeat, so every redelivered PlaceOrder saves the order
        # again and queues another OrderCreated (a new message): Inventory reserves the stock twice.
        tx.put("orders", order["order_id"], {**order, "status": "PENDING"})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)


def on_order_created(event, ctx):
    order = event.data
    corr = event.correlation_id
    ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"}, correlation_id=corr)
    with ctx.db.transaction() as tx:
        if tx.get("inbox", event.id):
            return
        tx.insert("inbox", event.id, {})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.outbox("InventoryReserved", order, correlation_id=corr)
