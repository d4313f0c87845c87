def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        # Bug: deduplicates on the command's message id. A client that sends the same order
        # again sends a new message, so the order is saved again and announced twice.
        if tx.get("inbox", command.id):
            return
        tx.insert("inbox", command.id, {})
        tx.put("orders", order["order_id"], {"status": "PENDING", "sku": order["sku"],
                                             "qty": order["qty"], "amount": order["amount"]})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
