# Reads the count, computes the new one and writes it back, with no condition on the version:
# two reserves that overlap both read the same count, and the later write replaces the earlier.


def reserve(request, ctx):
    order = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", order["order_id"]):
            return {"status": "reserved"}          # a retry: the units are already held
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            return {"status": "out_of_stock"}
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.insert("holds", order["order_id"],
                  {"sku": order["sku"], "qty": order["qty"], "status": "RESERVED"})
    return {"status": "reserved"}


def confirm(request, ctx):
    with ctx.db.transaction() as tx:
        tx.update("holds", request.data["order_id"], status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] != "RESERVED":
            return {"status": "released"}          # already given back
        stock = tx.get("stock", hold["sku"])
        # Add the units back to the stock as it is now, never restore a value saved earlier.
        tx.update("stock", hold["sku"], available=stock["available"] + hold["qty"])
        tx.update("holds", oid, status="RELEASED")
    return {"status": "released"}
