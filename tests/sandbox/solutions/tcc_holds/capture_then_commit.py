# Differs from the reference: the card is tried first and confirmed first (capture, then commit),
# with a fixed list of participants walked in order; a late failure is cancelled at both, which
# refunds a capture that already happened.
from saga_api import DuplicateKey, RetryLater, Timeout

STEPS = [("payment", "authorize", "authorized", "capture", "captured", "cancel"),
         ("inventory", "hold", "held", "commit", "committed", "release")]
DEADLINE_MS = 3000


def send(ctx, command, service, op):
    return ctx.call(service, op, command.data, idempotency_key=op + "/" + command.data["order_id"],
                    correlation_id=command.correlation_id)


def checkout(command, ctx):
    oid = command.data["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING", "since": ctx.now, "undone": False})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] == "CONFIRMED" or row["undone"]:
        return
    try:
        if row["status"] == "PENDING":
            ok = True
            try:
                for service, try_op, held, *_ in STEPS:
                    if send(ctx, command, service, try_op)["status"] != held:
                        ok = False
                        break
            except Timeout:
                if ctx.now - row["since"] < DEADLINE_MS:
                    raise RetryLater(250)
                ok = False
            if ok:
                for service, _, _, confirm_op, done, _ in STEPS:
                    if send(ctx, command, service, confirm_op)["status"] != done:
                        ok = False
                        break
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, status="CONFIRMED" if ok else "CANCELLED")
            if ok:
                return
        for service, *_, cancel_op in reversed(STEPS):
            send(ctx, command, service, cancel_op)
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, undone=True)
    except Timeout:
        raise RetryLater(250)
