# An inbox keyed by the order id (one capture per order), read with find() before writing.
def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        if tx.find("confirmations", order_id=order_id):
            return
        tx.put("confirmations", order_id, {"order_id": order_id, "payment_id": event.data["payment_id"]})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
