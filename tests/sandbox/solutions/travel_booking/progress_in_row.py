# Stores the legs booked so far in the trip row and resumes from them, compensating from that list; keys use the command's message id.
from saga_api import DuplicateKey, RetryLater, Timeout

LEGS = ("flight", "hotel", "car")


def book_trip(command, ctx):
    trip = command.data
    tid = trip["trip_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("trips", tid, {"status": "PENDING", "booked": []})
    except DuplicateKey:
        pass
    row = ctx.db.get("trips", tid)
    if row["status"] in ("CONFIRMED", "CANCELLED"):
        return
    booked = list(row["booked"])

    def call(leg, op):
        return ctx.call(leg, op, trip, idempotency_key=f"{command.id}|{leg}|{op}", correlation_id=corr)

    try:
        if row["status"] == "PENDING":
            for leg in LEGS[len(booked):]:
                status = call(leg, "book")["status"]
                if status == "busy":
                    raise RetryLater(200)
                if status != "booked":
                    with ctx.db.transaction() as tx:
                        tx.update("trips", tid, status="COMPENSATING")
                    break
                booked.append(leg)
                with ctx.db.transaction() as tx:
                    tx.update("trips", tid, booked=booked)
            else:
                with ctx.db.transaction() as tx:
                    tx.update("trips", tid, status="CONFIRMED")
                    tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
                return
        for leg in reversed(booked):
            call(leg, "cancel")
    except Timeout:
        raise RetryLater(300)
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status="CANCELLED")
