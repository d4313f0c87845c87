def on_payment_captured(event, ctx):
    # Bug: no deduplication, so a redelivered event confirms the order again.
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
