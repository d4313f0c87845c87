from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    # Bug: announces the order before it is committed. A crash right after
    # publishing leaves the world believing in an order that does not exist (yet).
    ctx.publish("OrderCreated", order, correlation_id=command.correlation_id)
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                    "qty": order["qty"], "amount": order["amount"]})
    except DuplicateKey:
        pass
