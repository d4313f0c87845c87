def on_inventory_reserved(event, ctx):
    with ctx.db.transaction() as tx:
        if not tx.get("received", event.id):
            tx.insert("received", event.id, {"order_id": event.data["order_id"]})
