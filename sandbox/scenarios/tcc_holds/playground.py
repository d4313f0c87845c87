DEADLINE_WITHIN_HOLD = True
# Playground version of the try-confirm/cancel checkout. The lesson toggle sets DEADLINE_WITHIN_HOLD
# (stop retrying and decide well within the shortest hold, or keep trying for longer than it lasts);
# the loader replaces the default above. Whether the participants' holds expire at all is a setting
# of the world, not of this code.
from saga_api import Context, DuplicateKey, Event, RetryLater, Timeout  # noqa: E402  (after the flags)

DECIDE_WITHIN_MS = 2500 if DEADLINE_WITHIN_HOLD else 8000
RETRY_MS = 200


def call(ctx: Context, command: Event, service: str, op: str) -> dict[str, object]:
    oid = command.data["order_id"]
    return ctx.call(
        service,
        op,
        command.data,
        idempotency_key=f"{op}-{oid}",
        correlation_id=command.correlation_id,
    )


def checkout(command: Event, ctx: Context) -> None:
    oid = command.data["order_id"]
    try:
        with ctx.db.transaction() as tx:
            row = {**command.data, "status": "PENDING", "placed_at": ctx.now, "cancels_sent": False}
            tx.insert("orders", oid, row)
    except DuplicateKey:
        pass
    order = ctx.db.get("orders", oid)
    try:
        if order["status"] == "PENDING":
            decision = try_all(ctx, command, order)
            if decision == "confirm":
                decision = confirm_all(ctx, command)
            with ctx.db.transaction() as tx:
                status = "CONFIRMED" if decision == "confirm" else "CANCELLED"
                tx.update("orders", oid, status=status)
            if decision == "confirm":
                return
        elif order["status"] != "CANCELLED" or order["cancels_sent"]:
            return
        call(ctx, command, "inventory", "release")
        call(ctx, command, "payment", "cancel")
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, cancels_sent=True)
    except Timeout:
        raise RetryLater(RETRY_MS) from None


def try_all(ctx: Context, command: Event, order: dict[str, object]) -> str:
    try:
        if call(ctx, command, "inventory", "hold")["status"] != "held":
            return "cancel"
        if call(ctx, command, "payment", "authorize")["status"] != "authorized":
            return "cancel"
    except Timeout:
        placed = order["placed_at"]
        assert isinstance(placed, int)
        if ctx.now - placed < DECIDE_WITHIN_MS:
            raise RetryLater(RETRY_MS) from None
        return "cancel"
    return "confirm"


def confirm_all(ctx: Context, command: Event) -> str:
    if call(ctx, command, "inventory", "commit")["status"] != "committed":
        return "cancel"
    if call(ctx, command, "payment", "capture")["status"] != "captured":
        return "cancel"
    return "confirm"
