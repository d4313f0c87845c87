# Trusted Payment for the unknown-outcome scenario. Each operation replays its stored result for a
# repeated idempotency key. Store: accounts[customer] {balance, initial}; payments[payment id]
# {order_id, amount, status: CAPTURED | REFUNDED}; declines[order_id]; tombstones[order_id] (the
# order was cancelled here: a capture for it that arrives later is refused).

from typing import Any

from saga_api import Context, Request, Transaction

from sandbox.scenarios.world_prelude import _replay, _save


def payment_capture(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if tx.get("tombstones", d["order_id"]):
            return _save(tx, request, {"status": "cancelled"})  # too late: refused
        account = tx.get("accounts", d["customer"])
        if account["balance"] < d["amount"]:
            tx.put("declines", d["order_id"], {"balance": account["balance"]})
            return _save(tx, request, {"status": "declined"})
        tx.update("accounts", d["customer"], balance=account["balance"] - d["amount"])
        pid = ctx.new_id("pay")
        tx.insert(
            "payments",
            pid,
            {"order_id": d["order_id"], "amount": d["amount"], "status": "CAPTURED"},
        )
        return _save(tx, request, {"status": "captured", "payment_id": pid})


def payment_status(request: Request, ctx: Context) -> dict[str, Any]:
    oid = request.data["order_id"]
    states = {p["status"] for _, p in ctx.db.find("payments", order_id=oid)}
    if "CAPTURED" in states:
        return {"status": "captured"}
    if "REFUNDED" in states:
        return {"status": "refunded"}
    if ctx.db.get("tombstones", oid):
        return {"status": "cancelled"}
    if ctx.db.get("declines", oid):
        return {"status": "declined"}
    return {"status": "none"}  # no capture arrived (yet: one may still be on its way)


def payment_refund(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        return _save(tx, request, {"status": "refunded", "amount": _refund_all(tx, d)})


def payment_cancel(request: Request, ctx: Context) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        amount = _refund_all(tx, d)
        tx.put("tombstones", d["order_id"], {"at": ctx.now})
        return _save(
            tx, request, {"status": "refunded" if amount else "cancelled", "amount": amount}
        )


def _refund_all(tx: Transaction, d: dict[str, Any]) -> int:
    refunded = 0
    for key, p in tx.find("payments", order_id=d["order_id"], status="CAPTURED"):
        account = tx.get("accounts", d["customer"])
        tx.update("accounts", d["customer"], balance=account["balance"] + p["amount"])
        tx.update("payments", key, status="REFUNDED")
        refunded += p["amount"]
    return refunded
