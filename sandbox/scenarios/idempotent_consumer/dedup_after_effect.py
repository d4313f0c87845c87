def on_payment_captured(event, ctx):
    # Bug: the dedup record is written in a second transaction, after the state change.
    # A crash between the two leaves the capture unmarked, so its redelivery confirms again.
    order_id = event.data["order_id"]
    payment_id = event.data["payment_id"]
    if ctx.db.get("processed", payment_id):
        return
    with ctx.db.transaction() as tx:
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
    with ctx.db.transaction() as tx:
        tx.insert("processed", payment_id, {})
