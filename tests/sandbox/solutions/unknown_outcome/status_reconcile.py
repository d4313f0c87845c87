# Reconciles after every timeout by asking Payment for the order's status before retrying the capture; gives up after 2.5 s with a keyless cancel (idempotent by Payment's state), retried at a fixed interval; a pending compensation lives in its own table.
from saga_api import DuplicateKey, RetryLater, Timeout

WAIT_MS = 250


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "since": ctx.now})
    except DuplicateKey:
        pass
    if ctx.db.get("to_cancel", oid):
        try:
            ctx.call("payment", "cancel", order, correlation_id=corr)
        except Timeout:
            raise RetryLater(WAIT_MS)
        with ctx.db.transaction() as tx:
            tx.delete("to_cancel", oid)
        return
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return
    try:
        known = ctx.call("payment", "status", {"order_id": oid}, correlation_id=corr)["status"]
        if known not in ("captured", "declined"):
            known = ctx.call("payment", "capture", order, idempotency_key="cap:" + oid,
                             correlation_id=corr)["status"]
    except Timeout:
        if ctx.now - row["since"] < 2500:
            raise RetryLater(WAIT_MS)
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED")
            tx.insert("to_cancel", oid, {})
        raise RetryLater(1)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED" if known == "captured" else "CANCELLED")
