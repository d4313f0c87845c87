def place_order(command, ctx):
    # The order row and its event commit together. A repeat hits DuplicateKey and writes nothing...
    # but the exception escapes, so the broker retries the command until it dead-letters it.
    order = command.data
    with ctx.db.transaction() as tx:
        tx.insert("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                                "qty": order["qty"], "amount": order["amount"]})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
