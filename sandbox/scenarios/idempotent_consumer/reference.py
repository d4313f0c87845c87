def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    # The capture's own id, not the message id: Payment may announce one capture as two messages.
    payment_id = event.data["payment_id"]
    with ctx.db.transaction() as tx:
        if tx.get("processed", payment_id):
            return                      # seen before: the state change and its event are already done
        tx.insert("processed", payment_id, {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
