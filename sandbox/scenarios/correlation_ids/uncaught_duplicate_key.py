from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass


def on_order_created(event, ctx):
    order = event.data
    corr = event.correlation_id
    ctx.call("audit", "record", {"order_id": order["order_id"], "step": "reserve"}, correlation_id=corr)
    with ctx.db.transaction() as tx:
        # Bug: relies on the inbox insert failing on a redelivery. It does (DuplicateKey, nothing
        # written), but the exception escapes, so the broker retries the event until it dead-letters it.
        tx.insert("inbox", event.id, {})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.outbox("InventoryReserved", order, correlation_id=corr)
