# One helper applies every change as a delta to the row as read, conditional on its version.


def move(tx, sku, delta):
    row = tx.get("stock", sku)
    tx.update("stock", sku, available=row["available"] + delta, version=row["version"] + 1)


def reserve(request, ctx):
    d = request.data
    if ctx.db.get("holds", d["order_id"]):
        return {"status": "reserved"}
    if ctx.db.get("stock", d["sku"])["available"] < d["qty"]:
        return {"status": "out_of_stock"}
    with ctx.db.transaction() as tx:
        move(tx, d["sku"], -d["qty"])
        tx.insert("holds", d["order_id"], {"sku": d["sku"], "qty": d["qty"], "status": "RESERVED"})
    return {"status": "reserved"}


def confirm(request, ctx):
    d = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", d["order_id"])["status"] == "RESERVED":
            tx.update("holds", d["order_id"], status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    d = request.data
    hold = ctx.db.get("holds", d["order_id"])
    if hold["status"] == "RESERVED":
        with ctx.db.transaction() as tx:
            move(tx, hold["sku"], hold["qty"])
            tx.update("holds", d["order_id"], status="RELEASED")
    return {"status": "released"}
