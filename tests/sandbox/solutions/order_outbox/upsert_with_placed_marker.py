# Upserts the order with put() and guards the event with a separate "announced" table keyed by order id.
def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        if tx.get("announced", order["order_id"]):
            return
        tx.put("orders", order["order_id"], dict(order, status="PENDING"))
        tx.put("announced", order["order_id"], {"command": command.id})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
