from saga_api import Context, Event


def on_inventory_reserved(event: Event, ctx: Context) -> None:
    with ctx.db.transaction() as tx:
        if not tx.get("received", event.id):
            tx.insert("received", event.id, {"order_id": event.data["order_id"]})
