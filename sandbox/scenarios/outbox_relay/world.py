# Trusted participants of the outbox_relay scenario: Shipping consumes the order events.

from saga_api import Context, Event


def on_order_event(event: Event, ctx: Context) -> None:
    # Shipping deduplicates on the event id the Order service put in the event's data: a relay
    # that republishes a row sends a new broker message with the same event id.
    data = event.data if isinstance(event.data, dict) else {}
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return
    with ctx.db.transaction() as tx:
        if tx.get("inbox", event_id):
            return
        tx.insert("inbox", event_id, {"type": event.type, "order_id": data.get("order_id")})
