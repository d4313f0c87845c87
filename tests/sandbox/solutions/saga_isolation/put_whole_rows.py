# Writes whole rows with put (the new version inside), and takes the quantity from the request.


def reserve(request, ctx):
    oid, sku, qty = request.data["order_id"], request.data["sku"], request.data["qty"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold is None:
            stock = tx.get("stock", sku)
            if stock["available"] - qty < 0:
                return {"status": "out_of_stock"}
            tx.put("stock", sku, {"available": stock["available"] - qty,
                                  "version": stock["version"] + 1})
            tx.put("holds", oid, {"sku": sku, "qty": qty, "status": "RESERVED"})
    return {"status": "reserved"}


def confirm(request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        tx.put("holds", oid, {**hold, "status": "SOLD"})
    return {"status": "confirmed"}


def release(request, ctx):
    oid, sku, qty = request.data["order_id"], request.data["sku"], request.data["qty"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] == "RELEASED":
            return {"status": "released"}
        stock = tx.get("stock", sku)
        tx.put("stock", sku, {"available": stock["available"] + qty,
                              "version": stock["version"] + 1})
        tx.put("holds", oid, {**hold, "status": "RELEASED"})
    return {"status": "released"}
