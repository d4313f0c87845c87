def on_payment_captured(event, ctx):
    # Deduplicates by the capture, but announces the confirmation without the checkout's correlation id.
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("processed", event.data["payment_id"]):
            return
        tx.insert("processed", event.data["payment_id"], {"order_id": order_id})
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id})
