# Reads the order first and returns on a repeat, instead of catching DuplicateKey.
def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        if tx.get("orders", order["order_id"]) is not None:
            return
        tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"], "qty": order["qty"],
                                                "amount": order["amount"]})
        tx.outbox("OrderCreated", dict(order), correlation_id=command.correlation_id)
