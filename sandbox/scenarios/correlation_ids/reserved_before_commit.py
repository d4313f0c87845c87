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
    if ctx.db.get("inbox", event.id):
        return
    # Bug: tells Payment before the reservation commits. A crash in between leaves the event out
    # and the reservation undone; the redelivery reserves and announces the order a second time.
    ctx.publish("InventoryReserved", order, correlation_id=corr)
    with ctx.db.transaction() as tx:
        tx.insert("inbox", event.id, {})
        stock = tx.get("stock", order["sku"])
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
