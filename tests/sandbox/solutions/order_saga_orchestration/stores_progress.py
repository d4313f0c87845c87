# The orchestrator stores its step progress (RESERVED, then PAID) in the order row and resumes from it instead of re-asking every step; keys are the command's message id plus the operation.
from saga_api import DuplicateKey, RetryLater, Timeout


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    if ctx.db.get("orders", oid) is None:
        try:
            with ctx.db.transaction() as tx:
                tx.insert("orders", oid, {**order, "status": "PENDING", "step": "NEW"})
        except DuplicateKey:
            pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        answer = ctx.call(service, op, order, idempotency_key=f"{command.id}:{op}", correlation_id=corr)
        if answer.get("status") == "busy":
            raise RetryLater(250)
        return answer

    def step(name):
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, step=name)

    try:
        if row["step"] == "NEW":
            if call("inventory", "reserve")["status"] != "reserved":
                return finish(ctx, oid, "CANCELLED", corr)
            step("RESERVED")
            row = ctx.db.get("orders", oid)
        if row["step"] == "RESERVED":
            if call("payment", "capture")["status"] != "captured":
                call("inventory", "release")
                return finish(ctx, oid, "CANCELLED", corr)
            step("PAID")
    except Timeout:
        raise RetryLater(400)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("OrderConfirmed" if status == "CONFIRMED" else "OrderCancelled", {"order_id": oid},
                  correlation_id=corr)
