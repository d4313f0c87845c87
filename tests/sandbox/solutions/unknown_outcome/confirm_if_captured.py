# Before giving up, asks Payment whether the money was taken after all and confirms the order if so; otherwise cancels it and closes the door at Payment with a cancel (refund or tombstone), retried with a fixed wait; its own step prefixes for the keys ("pay-", "undo-").
from saga_api import DuplicateKey, RetryLater, Timeout

LIMIT_MS = 3200
PAUSE_MS = 400


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "t0": ctx.now, "open": True})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] == "PENDING":
        try:
            got = ctx.call("payment", "capture", order, idempotency_key="pay-" + oid,
                           correlation_id=corr)["status"]
        except Timeout:
            if ctx.now - row["t0"] < LIMIT_MS:
                raise RetryLater(PAUSE_MS)
            try:
                got = ctx.call("payment", "status", {"order_id": oid}, correlation_id=corr)["status"]
            except Timeout:
                got = "unknown"
        if got == "captured":
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, status="CONFIRMED", open=False)
            return
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED", open=got != "declined")
        row = ctx.db.get("orders", oid)
    if row["status"] == "CANCELLED" and row["open"]:
        try:
            ctx.call("payment", "cancel", order, idempotency_key="undo-" + oid, correlation_id=corr)
        except Timeout:
            raise RetryLater(PAUSE_MS)
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, open=False)
