# On a refusal it cancels all three legs, booked or not (a cancel of a leg never booked is a harmless no-op), in booking order; a status guard instead of DuplicateKey.
from saga_api import RetryLater, Timeout

LEGS = ["flight", "hotel", "car"]


def book_trip(command, ctx):
    trip = command.data
    tid = trip["trip_id"]
    corr = command.correlation_id
    current = ctx.db.get("trips", tid)
    if current is None:
        with ctx.db.transaction() as tx:
            tx.insert("trips", tid, {"status": "PENDING"})
    elif current["status"] != "PENDING":
        return
    key = lambda leg, op: f"trip:{tid}:{leg}:{op}"
    try:
        for leg in LEGS:
            answer = ctx.call(leg, "book", trip, idempotency_key=key(leg, "book"), correlation_id=corr)
            if answer["status"] == "busy":
                raise RetryLater(400)
            if answer["status"] == "unavailable":
                for other in LEGS:
                    ctx.call(other, "cancel", trip, idempotency_key=key(other, "cancel"), correlation_id=corr)
                with ctx.db.transaction() as tx:
                    tx.update("trips", tid, status="CANCELLED")
                return
    except Timeout:
        raise RetryLater(250)
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status="CONFIRMED")
        tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
