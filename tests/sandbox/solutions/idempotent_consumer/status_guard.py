# No processed table: the order's own status is the guard (a confirmed order is never confirmed again).
def on_payment_captured(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        order = tx.get("orders", order_id)
        if order["status"] == "CONFIRMED":
            return
        tx.update("orders", order_id, status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": order_id}, correlation_id=event.correlation_id)
