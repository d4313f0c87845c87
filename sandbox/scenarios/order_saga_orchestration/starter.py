def handle_place_order(command, ctx):
    # Drives the order saga: reserve stock, capture payment, confirm.
    # What if a call times out? What if this command is delivered again after a crash?
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    with ctx.db.transaction() as tx:
        tx.insert("orders", oid, {**order, "status": "PENDING"})
    reserved = ctx.call("inventory", "reserve", order, correlation_id=corr)
    if reserved["status"] != "reserved":
        finish(ctx, oid, "CANCELLED", corr)
        return
    captured = ctx.call("payment", "capture", order, correlation_id=corr)
    finish(ctx, oid, "CONFIRMED" if captured["status"] == "captured" else "CANCELLED", corr)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)
