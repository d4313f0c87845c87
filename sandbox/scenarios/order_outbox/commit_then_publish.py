from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                    "qty": order["qty"], "amount": order["amount"]})
    except DuplicateKey:
        return
    # Bug: a crash between the commit and this publish loses the event for good
    # (the redelivered command finds the order and returns).
    ctx.publish("OrderCreated", order, correlation_id=command.correlation_id)
