def on_payment_captured(event, ctx):
    # The insert raises DuplicateKey on a repeat and the transaction writes nothing: a guard of sorts?
    # The exception escapes, so the broker retries the repeat until it dead-letters it.
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        tx.insert("processed", event.data["payment_id"], {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
