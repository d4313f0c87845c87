def handle_place_order(command, ctx):
    # Drives the order saga: reserve stock, capture payment, confirm.
    # What if a call times out? What if this command is delivered again after a crash?
    order = command.data
    oid = order["order_id"]
    with ctx.db.transaction() as tx:
        tx.insert("orders", oid, {**order, "status": "PENDING"})
    reserved = ctx.call("inventory", "reserve", order, correlation_id=command.correlation_id)
    if reserved["status"] != "reserved":
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED")
        return
    captured = ctx.call("payment", "capture", order, correlation_id=command.correlation_id)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED" if captured["status"] == "captured" else "CANCELLED")
