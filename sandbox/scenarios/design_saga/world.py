# Trusted operations the declarative saga can use. Every operation answers
# {"ok": bool, "status": str}; all honour idempotency keys.


from typing import Any

from saga_api import Context, Request

from sandbox.scenarios.world_prelude import _replay, _save


def _set_status(
    request: Request, ctx: Context, status: str, create: bool = False
) -> dict[str, Any]:
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if create:
            if not tx.get("orders", oid):
                tx.insert("orders", oid, {"status": status})
        elif tx.get("orders", oid):
            tx.update("orders", oid, status=status)
        else:
            return _save(tx, request, {"ok": False, "status": "no such order"})
        return _save(tx, request, {"ok": True, "status": status.lower()})


def order_create(request: Request, ctx: Context) -> dict[str, Any]:
    return _set_status(request, ctx, "PENDING", create=True)


def order_confirm(request: Request, ctx: Context) -> dict[str, Any]:
    return _set_status(request, ctx, "CONFIRMED")


def order_cancel(request: Request, ctx: Context) -> dict[str, Any]:
    return _set_status(request, ctx, "CANCELLED")


def inventory_reserve(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        stock = tx.get("stock", d["sku"])
        if stock["available"] < d["qty"]:
            return _save(tx, request, {"ok": False, "status": "out_of_stock"})
        tx.update("stock", d["sku"], available=stock["available"] - d["qty"])
        tx.insert(
            "reservations",
            d["order_id"],
            {"order_id": d["order_id"], "sku": d["sku"], "qty": d["qty"], "status": "RESERVED"},
        )
        return _save(tx, request, {"ok": True, "status": "reserved"})


def inventory_release(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        r = tx.get("reservations", d["order_id"])
        if r and r["status"] == "RESERVED":
            stock = tx.get("stock", r["sku"])
            tx.update("stock", r["sku"], available=stock["available"] + r["qty"])
            tx.update("reservations", d["order_id"], status="RELEASED")
    return {"ok": True, "status": "released"}


def payment_capture(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        account = tx.get("accounts", d["customer"])
        if account["balance"] < d["amount"]:
            return _save(tx, request, {"ok": False, "status": "declined"})
        tx.update("accounts", d["customer"], balance=account["balance"] - d["amount"])
        tx.insert(
            "payments",
            d["order_id"],
            {"order_id": d["order_id"], "amount": d["amount"], "status": "CAPTURED"},
        )
        return _save(tx, request, {"ok": True, "status": "captured"})


def payment_refund(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        p = tx.get("payments", d["order_id"])
        if p and p["status"] == "CAPTURED":
            account = tx.get("accounts", d["customer"])
            tx.update("accounts", d["customer"], balance=account["balance"] + p["amount"])
            tx.update("payments", d["order_id"], status="REFUNDED")
    return {"ok": True, "status": "refunded"}
