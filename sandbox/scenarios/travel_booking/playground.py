COMPENSATE = True
IDEMPOTENT_COMPENSATION = True
# Playground version of the travel booking orchestrator. Toggles: COMPENSATE
# (cancel the legs already booked) and IDEMPOTENT_COMPENSATION (cancel with a key).
from saga_api import Context, DuplicateKey, Event, RetryLater, Timeout  # noqa: E402

LEGS = ["flight", "hotel", "car"]


def book_trip(command: Event, ctx: Context) -> None:
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
        booked: list[str] = []
        for leg in LEGS:
            result = ctx.call(
                leg, "book", trip, idempotency_key=f"book-{leg}-{tid}", correlation_id=corr
            )
            if result["status"] != "booked":
                for done in reversed(booked) if COMPENSATE else []:
                    key = f"cancel-{done}-{tid}" if IDEMPOTENT_COMPENSATION else None
                    ctx.call(done, "cancel", trip, idempotency_key=key, correlation_id=corr)
                finish(ctx, tid, "CANCELLED", corr)
                return
            booked.append(leg)
    except Timeout:
        raise RetryLater(300)
    finish(ctx, tid, "CONFIRMED", corr)


def finish(ctx: Context, tid: str, status: str, corr: str | None) -> None:
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status=status)
        if status == "CONFIRMED":
            tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
