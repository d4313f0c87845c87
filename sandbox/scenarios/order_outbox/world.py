# Trusted participants of the order_outbox scenario.


def on_order_created(event, ctx):
    with ctx.db.transaction() as tx:
        if tx.get("received", event.id):
            return
        tx.insert(
            "received", event.id, {"order_id": event.data.get("order_id"), "data": event.data}
        )
