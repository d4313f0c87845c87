SEMANTIC_LOCK = True
CONDITIONAL_UPDATE = True
COMMUTATIVE = True
# Playground version of Inventory. The lesson toggles set SEMANTIC_LOCK (a reservation takes its
# units at once and holds them RESERVED, or only checks the count and takes them at payment),
# CONDITIONAL_UPDATE (every write of a stock row is conditional on the version read, or a plain
# write that replaces whatever is there) and COMMUTATIVE (a release adds the units back to the count
# as it is, or sets the count back to the value saved when the units were reserved); the loader
# replaces the defaults above.
from saga_api import Context, Request, Transaction  # noqa: E402  (after the flags)


def write_stock(tx: Transaction, sku: str, stock: dict[str, int], available: int) -> None:
    if CONDITIONAL_UPDATE:
        tx.update("stock", sku, available=available, version=stock["version"] + 1)
    else:
        tx.update("stock", sku, available=available)


def reserve(request: Request, ctx: Context) -> dict[str, str]:
    order = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", order["order_id"]):
            return {"status": "reserved"}
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            return {"status": "out_of_stock"}
        hold = {"sku": order["sku"], "qty": order["qty"], "saved": stock["available"]}
        if SEMANTIC_LOCK:
            write_stock(tx, order["sku"], stock, stock["available"] - order["qty"])
            tx.insert("holds", order["order_id"], {**hold, "status": "RESERVED"})
        else:
            tx.insert("holds", order["order_id"], {**hold, "status": "PENDING"})
    return {"status": "reserved"}


def confirm(request: Request, ctx: Context) -> dict[str, str]:
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] == "PENDING":  # no semantic lock: the units are taken only now
            stock = tx.get("stock", hold["sku"])
            write_stock(tx, hold["sku"], stock, stock["available"] - hold["qty"])
        if hold["status"] in ("PENDING", "RESERVED"):
            tx.update("holds", oid, status="SOLD")
    return {"status": "confirmed"}


def release(request: Request, ctx: Context) -> dict[str, str]:
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] == "RESERVED":
            stock = tx.get("stock", hold["sku"])
            back = stock["available"] + hold["qty"] if COMMUTATIVE else hold["saved"]
            write_stock(tx, hold["sku"], stock, back)
        if hold["status"] in ("PENDING", "RESERVED"):
            tx.update("holds", oid, status="RELEASED")
    return {"status": "released"}
