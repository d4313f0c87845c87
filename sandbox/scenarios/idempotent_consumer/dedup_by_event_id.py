def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        # Bug: the message id is the transport's, not the capture's. When Payment announces
        # the same capture again as a new message, it gets a new id and confirms the order twice.
        if tx.get("processed", event.id):
            return
        tx.insert("processed", event.id, {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
