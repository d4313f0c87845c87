def on_payment_captured(event, ctx):
    # Confirms the order and announces it. What happens if this event arrives twice?
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
