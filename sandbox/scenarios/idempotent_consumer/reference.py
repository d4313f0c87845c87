def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("processed", event.id):
            return                      # seen before: the state change and its event are already done
        tx.insert("processed", event.id, {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
