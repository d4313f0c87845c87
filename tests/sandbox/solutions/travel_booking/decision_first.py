# Records the decision (CANCELLING with the legs to undo) before compensating, so a crash mid-compensation resumes the cancels; keys come from the correlation id.
from saga_api import DuplicateKey, RetryLater, Timeout

LEGS = ["flight", "hotel", "car"]


def book_trip(command, ctx):
    trip, corr = command.data, command.correlation_id
    tid = trip["trip_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("trips", tid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    row = ctx.db.get("trips", tid)
    try:
        if row["status"] == "PENDING":
            done = []
            for leg in LEGS:
                status = send(ctx, leg, "book", trip, corr)
                if status == "booked":
                    done.append(leg)
                    continue
                with ctx.db.transaction() as tx:
                    tx.update("trips", tid, status="CANCELLING", undo=done[::-1])
                row = ctx.db.get("trips", tid)
                break
            else:
                with ctx.db.transaction() as tx:
                    tx.update("trips", tid, status="CONFIRMED")
                    tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
                return
        if row["status"] == "CANCELLING":
            for leg in row["undo"]:
                send(ctx, leg, "cancel", trip, corr)
            with ctx.db.transaction() as tx:
                tx.update("trips", tid, status="CANCELLED")
    except Timeout:
        raise RetryLater(300)


def send(ctx, leg, op, trip, corr):
    answer = ctx.call(leg, op, trip, idempotency_key=f"{corr}-{leg}-{op}", correlation_id=corr)
    if answer["status"] == "busy":
        raise RetryLater(300)
    return answer["status"]
