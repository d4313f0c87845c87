# Bug: a confirm that fails is retried, as if it were a timeout. When the hold has expired the
# confirm can never succeed, and the order stays PENDING for ever.
from saga_api import DuplicateKey, RetryLater, Timeout

DECIDE_WITHIN_MS = 2500   # stop trying and decide well before the shortest hold lapses
RETRY_MS = 200


def call(ctx, command, service, op):
    # One key per order and operation: a retry can never hold, capture or cancel twice.
    oid = command.data["order_id"]
    return ctx.call(service, op, command.data, idempotency_key=f"{op}-{oid}",
                    correlation_id=command.correlation_id)


def checkout(command, ctx):
    oid = command.data["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**command.data, "status": "PENDING",
                                      "placed_at": ctx.now, "cancels_sent": False})
    except DuplicateKey:
        pass                                   # redelivered: carry on from the saved state
    row = ctx.db.get("orders", oid)
    try:
        if row["status"] == "PENDING":
            decision = try_all(ctx, command, row)
            if decision == "confirm":
                decision = confirm_all(ctx, command)
            with ctx.db.transaction() as tx:
                tx.update("orders", oid,
                          status="CONFIRMED" if decision == "confirm" else "CANCELLED")
            if decision == "confirm":
                return
        elif row["status"] != "CANCELLED" or row["cancels_sent"]:
            return
        # Cancelled: cancel every try, whatever it answered (a try that timed out may have
        # held something, or may still arrive: the cancel also makes the participant refuse it).
        call(ctx, command, "inventory", "release")
        call(ctx, command, "payment", "cancel")
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, cancels_sent=True)
    except Timeout:
        raise RetryLater(RETRY_MS)             # same keys next time: nothing happens twice


def try_all(ctx, command, row):
    try:
        if call(ctx, command, "inventory", "hold")["status"] != "held":
            return "cancel"                    # out of stock: a real refusal
        if call(ctx, command, "payment", "authorize")["status"] != "authorized":
            return "cancel"                    # declined
    except Timeout:
        if ctx.now - row["placed_at"] < DECIDE_WITHIN_MS:
            raise RetryLater(RETRY_MS)
        return "cancel"                        # out of time: give up while the holds still last
    return "confirm"


def confirm_all(ctx, command):
    # The stock hold was taken first and is the shorter one: confirm it first.
    if call(ctx, command, "inventory", "commit")["status"] != "committed":
        raise RetryLater(RETRY_MS)             # try the confirm again in a moment
    if call(ctx, command, "payment", "capture")["status"] != "captured":
        raise RetryLater(RETRY_MS)
    return "confirm"
