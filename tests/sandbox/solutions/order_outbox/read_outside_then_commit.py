# Checks outside the transaction and relies on the store rejecting a second insert at commit.
def place_order(command, ctx):
    order_id = command.data["order_id"]
    if ctx.db.get("orders", order_id):
        return                                  # saved (and announced) already
    row = {key: command.data[key] for key in ("sku", "qty", "amount")}
    with ctx.db.transaction() as tx:
        tx.insert("orders", order_id, {**row, "status": "PENDING"})
        tx.outbox("OrderCreated", {"order_id": order_id, **row}, correlation_id=command.correlation_id)
