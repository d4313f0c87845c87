def on_payment_captured(event, ctx):
    # Bug: publishes directly after committing (no outbox). A crash in between loses the event,
    # and the redelivered PaymentCaptured is (correctly) skipped as a duplicate.
    order_id = event.data["order_id"]
    payment_id = event.data["payment_id"]
    with ctx.db.transaction() as tx:
        if tx.get("processed", payment_id):
            return
        tx.insert("processed", payment_id, {})
        tx.update("orders", order_id, status="CONFIRMED")
    ctx.publish("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
