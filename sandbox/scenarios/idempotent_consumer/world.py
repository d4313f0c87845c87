# Trusted participants of the idempotent_consumer scenario.

from saga_api import Context, Event


def on_order_confirmed(event: Event, ctx: Context) -> None:
    # Shipping dedups by message id: a redelivered OrderConfirmed is harmless,
    # but two different OrderConfirmed events mean two shipments.
    with ctx.db.transaction() as tx:
        if tx.get("seen", event.id):
            return
        tx.insert("seen", event.id, {})
        tx.insert("shipments", event.id, {"order_id": event.data["order_id"]})
