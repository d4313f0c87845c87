def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        # Bug: one correlation id names a whole checkout, which can hold several orders:
        # the second order of a checkout is taken for a duplicate and never confirmed.
        if tx.get("processed", event.correlation_id):
            return
        tx.insert("processed", event.correlation_id, {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
