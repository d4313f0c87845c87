from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    # Tell the rest of the system, then save the order.
    ctx.publish("OrderCreated", order, correlation_id=command.correlation_id)
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                    "qty": order["qty"], "amount": order["amount"]})
    except DuplicateKey:
        pass
