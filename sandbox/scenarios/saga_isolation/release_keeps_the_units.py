# The compensation marks the hold RELEASED but never puts its units back on sale: later
# orders are refused "out of stock" for units nobody holds.


def reserve(request, ctx):
    order = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", order["order_id"]):
            return {"status": "reserved"}          # a retry: the units are already held
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            return {"status": "out_of_stock"}
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"],
                  version=stock["version"] + 1)
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
        tx.update("holds", oid, status="RELEASED")
    return {"status": "released"}
