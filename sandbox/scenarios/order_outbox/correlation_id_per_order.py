from saga_api import DuplicateKey


def place_order(command, ctx):
    # Outbox done right, but the event gets a correlation id made up from the order instead of the
    # checkout's id copied from the command.
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                    "qty": order["qty"], "amount": order["amount"]})
            tx.outbox("OrderCreated", order, correlation_id="corr-" + order["order_id"])
    except DuplicateKey:
        pass
