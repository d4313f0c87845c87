from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            # Bug: rebuilds the id from the order id ("they are always corr-<order id>").
            # A checkout names its own correlation id; this one matches nothing in the logs.
            tx.outbox("OrderCreated", order, correlation_id=f"corr-{order['order_id']}")
    except DuplicateKey:
        pass


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
