# Trusted participants of the order_outbox scenario.

from saga_api import Context, Event


def on_order_created(event: Event, ctx: Context) -> None:
    with ctx.db.transaction() as tx:
        if tx.get("received", event.id):
            return
        tx.insert(
            "received", event.id, {"order_id": event.data.get("order_id"), "data": event.data}
        )
