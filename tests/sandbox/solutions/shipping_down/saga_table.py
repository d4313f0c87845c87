# Keeps the saga's progress in its own table (one row per step reached) and resumes from it, instead of re-asking every service on each retry.
from saga_api import DuplicateKey, Timeout, RetryLater

DEADLINE_MS = 9_000
STEPS = ("authorize", "schedule", "capture")


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    with ctx.db.transaction() as tx:
        if tx.get("orders", oid) is None:
            tx.insert("orders", oid, {"status": "PENDING"})
            tx.insert("saga", oid, {"done": [], "started": ctx.now})
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return
    saga = ctx.db.get("saga", oid)
    if saga.get("gave_up"):
        return give_up(ctx, order, corr, saga)
    for step in STEPS:
        if step in saga["done"]:
            continue
        service = "shipping" if step == "schedule" else "payment"
        try:
            answer = ctx.call(service, step, order, idempotency_key=oid + "." + step, correlation_id=corr)
        except Timeout:
            if step == "schedule" and ctx.now - saga["started"] >= DEADLINE_MS:
                return give_up(ctx, order, corr, saga)
            raise RetryLater(400)
        if answer["status"] not in ("authorized", "scheduled", "captured"):
            return give_up(ctx, order, corr, saga)
        with ctx.db.transaction() as tx:
            saga = tx.get("saga", oid)
            tx.update("saga", oid, done=saga["done"] + [step])
        saga = ctx.db.get("saga", oid)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED")


def give_up(ctx, order, corr, saga):
    oid = order["order_id"]
    if not saga.get("gave_up"):
        with ctx.db.transaction() as tx:           # decided: a retry must not go forward again
            tx.update("saga", oid, gave_up=True)
    if "authorize" in saga["done"]:
        try:
            ctx.call("payment", "void", order, idempotency_key=oid + ".void", correlation_id=corr)
        except Timeout:
            raise RetryLater(400)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CANCELLED")
        tx.outbox("CancelShipment", {"order_id": oid}, correlation_id=corr)
