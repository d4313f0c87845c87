from saga_api import DuplicateKey, Timeout, RetryLater

LEGS = ["flight", "hotel", "car"]


def book_trip(command, ctx):
    trip = command.data
    tid = trip["trip_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("trips", tid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("trips", tid)["status"] != "PENDING":
        return
    try:
        for leg in LEGS:
            result = ctx.call(leg, "book", trip, idempotency_key=f"book-{leg}-{tid}", correlation_id=corr)
            if result["status"] == "busy":
                raise RetryLater(300)               # nothing was booked: ask again later
            if result["status"] != "booked":
                # to fix: what about the legs booked before this one?
                finish(ctx, tid, "CANCELLED", corr)
                return
    except Timeout:
        raise RetryLater(300)
    finish(ctx, tid, "CONFIRMED", corr)


def finish(ctx, tid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status=status)
        if status == "CONFIRMED":
            tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
