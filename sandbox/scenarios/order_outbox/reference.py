from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            # The order row and its event commit together, or not at all.
            tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                    "qty": order["qty"], "amount": order["amount"]})
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass        # a redelivered command: the order (and its event) already exist
