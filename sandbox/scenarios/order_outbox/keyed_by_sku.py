from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            # Bug: one order per product. A second order for the same SKU is taken for a
            # duplicate and never saved or announced.
            tx.insert("orders", order["sku"], {"order_id": order["order_id"], "status": "PENDING",
                                               "qty": order["qty"], "amount": order["amount"]})
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass
