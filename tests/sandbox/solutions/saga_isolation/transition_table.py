# A table of hold transitions drives all three operations; a repeat finds the hold already moved.

# (operation, hold status before) -> (hold status after, units moved back to `available`)
MOVES = {
    ("confirm", "RESERVED"): ("SOLD", 0),
    ("release", "RESERVED"): ("RELEASED", 1),
}
ANSWERS = {"confirm": "confirmed", "release": "released"}


def reserve(request, ctx):
    d = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", d["order_id"]) is not None:
            return {"status": "reserved"}
        stock = tx.get("stock", d["sku"])
        if d["qty"] > stock["available"]:
            return {"status": "out_of_stock"}
        tx.insert("holds", d["order_id"], {"sku": d["sku"], "qty": d["qty"], "status": "RESERVED"})
        tx.update("stock", d["sku"], available=stock["available"] - d["qty"],
                  version=stock["version"] + 1)
    return {"status": "reserved"}


def settle(op, request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        move = MOVES.get((op, hold["status"]))
        if move:
            status, back = move
            tx.update("holds", oid, status=status)
            if back:
                stock = tx.get("stock", hold["sku"])
                tx.update("stock", hold["sku"], available=stock["available"] + back * hold["qty"],
                          version=stock["version"] + 1)
    return {"status": ANSWERS[op]}


def confirm(request, ctx):
    return settle("confirm", request, ctx)


def release(request, ctx):
    return settle("release", request, ctx)
