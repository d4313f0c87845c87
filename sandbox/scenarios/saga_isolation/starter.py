# Inventory: reserve, confirm and release an order's units of stock[sku]["available"].
# This version is correct when one saga runs at a time. Several run at once: see the statement.


def reserve(request, ctx):
    order = request.data
    stock = ctx.db.get("stock", order["sku"])
    if stock["available"] < order["qty"]:
        return {"status": "out_of_stock"}
    with ctx.db.transaction() as tx:
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.put("holds", order["order_id"],
               {"sku": order["sku"], "qty": order["qty"], "status": "RESERVED"})
    return {"status": "reserved"}


def confirm(request, ctx):
    with ctx.db.transaction() as tx:
        tx.update("holds", request.data["order_id"], status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    order = request.data
    stock = ctx.db.get("stock", order["sku"])
    with ctx.db.transaction() as tx:
        tx.update("stock", order["sku"], available=stock["available"] + order["qty"])
        tx.update("holds", order["order_id"], status="RELEASED")
    return {"status": "released"}
