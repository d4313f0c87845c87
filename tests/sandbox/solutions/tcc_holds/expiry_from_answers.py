# Differs from the reference: the deadline comes from the participants' answers (the expires_at a
# try returns), not from a constant: the checkout confirms only while every hold it got still has
# a safety margin left, and keeps its saga state in a separate table from the order.
from saga_api import DuplicateKey, RetryLater, Timeout

MARGIN_MS = 1500      # confirm only if every hold has at least this long left
PATIENCE_MS = 2000    # keep retrying timeouts this long


def checkout(command, ctx):
    oid = command.data["order_id"]
    corr = command.correlation_id

    def rpc(service, op):
        return ctx.call(service, op, command.data, idempotency_key=f"{oid}-{op}", correlation_id=corr)

    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING"})
            tx.insert("sagas", oid, {"started": ctx.now, "phase": "try", "expires": []})
    except DuplicateKey:
        pass
    saga = ctx.db.get("sagas", oid)
    if saga["phase"] == "done":
        return
    try:
        if saga["phase"] == "try":
            phase = "cancel"
            try:
                stock = rpc("inventory", "hold")
                card = rpc("payment", "authorize") if stock["status"] == "held" else None
                if card is not None and card["status"] == "authorized":
                    soonest = min(stock["expires_at"], card["expires_at"])
                    phase = "confirm" if ctx.now + MARGIN_MS <= soonest else "cancel"
            except Timeout:
                if ctx.now < saga["started"] + PATIENCE_MS:
                    raise RetryLater(200)
            with ctx.db.transaction() as tx:
                tx.update("sagas", oid, phase=phase)
            saga["phase"] = phase
        if saga["phase"] == "confirm":
            if (rpc("inventory", "commit")["status"] == "committed"
                    and rpc("payment", "capture")["status"] == "captured"):
                with ctx.db.transaction() as tx:
                    tx.update("orders", oid, status="CONFIRMED")
                    tx.update("sagas", oid, phase="done")
                return
            with ctx.db.transaction() as tx:
                tx.update("sagas", oid, phase="cancel")
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED")
        rpc("inventory", "release")
        rpc("payment", "cancel")
        with ctx.db.transaction() as tx:
            tx.update("sagas", oid, phase="done")
    except Timeout:
        raise RetryLater(200)
