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

    def call(leg, op):
        return ctx.call(leg, op, trip, idempotency_key=f"{op}-{leg}-{tid}", correlation_id=corr)

    try:
        booked = []
        for leg in LEGS:
            status = call(leg, "book")["status"]
            if status == "busy":
                raise RetryLater(300)               # transient: nothing was booked, ask again later
            if status != "booked":
                for done in reversed(booked):       # compensate, newest first
                    call(done, "cancel")
                finish(ctx, tid, "CANCELLED", corr)
                return
            booked.append(leg)
    except Timeout:
        raise RetryLater(300)                       # same keys next time: nothing happens twice
    finish(ctx, tid, "CONFIRMED", corr)


def finish(ctx, tid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status=status)
        if status == "CONFIRMED":
            tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
