# No semantic lock: a reservation only checks the count and records a PENDING hold; the units
# are taken when the payment succeeds. Two sagas can be promised the same last units.


def reserve(request, ctx):
    order = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", order["order_id"]):
            return {"status": "reserved"}          # a retry: the units are already held
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            return {"status": "out_of_stock"}
        tx.insert("holds", order["order_id"],
                  {"sku": order["sku"], "qty": order["qty"], "status": "PENDING"})
    return {"status": "reserved"}


def confirm(request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] != "PENDING":
            return {"status": "confirmed"}
        stock = tx.get("stock", hold["sku"])
        tx.update("stock", hold["sku"], available=stock["available"] - hold["qty"],
                  version=stock["version"] + 1)
        tx.update("holds", oid, status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        tx.update("holds", oid, status="RELEASED")     # nothing was taken yet
    return {"status": "released"}
