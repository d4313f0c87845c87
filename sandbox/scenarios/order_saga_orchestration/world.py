# Trusted participants for the orchestrated order saga. Each operation honours an
# idempotency key (stored result replayed); without a key it is NOT idempotent.
# While an order's row in the "busy" table says so, reserve / capture answer
# {"status": "busy"} and do nothing; that answer is transient and NOT stored under the
# key; out_of_stock and declined are final (and stored).


from typing import Any

from saga_api import Context, Request, Transaction

from sandbox.scenarios.world_prelude import _replay, _save


def inventory_reserve(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if _busy(tx, d, ctx):
            return {"status": "busy"}
        stock = tx.get("stock", d["sku"])
        if stock["available"] < d["qty"]:
            return _save(tx, request, {"status": "out_of_stock"})
        tx.update("stock", d["sku"], available=stock["available"] - d["qty"])
        rid = ctx.new_id("res")
        tx.insert(
            "reservations",
            rid,
            {"order_id": d["order_id"], "sku": d["sku"], "qty": d["qty"], "status": "RESERVED"},
        )
        return _save(tx, request, {"status": "reserved", "reservation_id": rid})


def inventory_release(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        released = 0
        for key, r in tx.find("reservations", order_id=d["order_id"], status="RESERVED"):
            stock = tx.get("stock", r["sku"])
            tx.update("stock", r["sku"], available=stock["available"] + r["qty"])
            tx.update("reservations", key, status="RELEASED")
            released += r["qty"]
        return _save(tx, request, {"status": "released", "units": released})


def payment_capture(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if _busy(tx, d, ctx):
            return {"status": "busy"}
        account = tx.get("accounts", d["customer"])
        if account["balance"] < d["amount"]:
            return _save(tx, request, {"status": "declined"})
        tx.update("accounts", d["customer"], balance=account["balance"] - d["amount"])
        pid = ctx.new_id("pay")
        tx.insert(
            "payments",
            pid,
            {"order_id": d["order_id"], "amount": d["amount"], "status": "CAPTURED"},
        )
        return _save(tx, request, {"status": "captured", "payment_id": pid})


def payment_refund(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        refunded = 0
        for key, p in tx.find("payments", order_id=d["order_id"], status="CAPTURED"):
            account = tx.get("accounts", d["customer"])
            tx.update("accounts", d["customer"], balance=account["balance"] + p["amount"])
            tx.update("payments", key, status="REFUNDED")
            refunded += p["amount"]
        return _save(tx, request, {"status": "refunded", "amount": refunded})


def _busy(tx: Transaction, order: dict[str, Any], ctx: Context) -> bool:
    row = tx.get("busy", order["order_id"])
    return bool(row) and ctx.now < row["until"]
