# Trusted Payment and Shipping services for the shipping_down challenge.
# payments rows: {"order_id", "amount", "status": AUTHORIZED | CAPTURED | VOIDED | REFUNDED,
#                 "captured_at", "refunded_at"}   (times the grader measures the money rule with)
# shipments rows: {"status": SCHEDULED | CANCELLED, "scheduled_at", "cancelled_at"}
# unserved[order_id]: set up by the scenario: Shipping refuses that order for ever.
# declines[order_id], refusals[order_id]: written when Payment declines / Shipping refuses an order
# (the grader's record of a real refusal, for cancelled_for_a_reason).


from typing import Any

from saga_api import Context, Event, Request, Transaction

from sandbox.scenarios.world_prelude import _replay, _save


def _take(tx: Transaction, ctx: Context, request: Request, status: str) -> dict[str, Any]:
    d = request.data
    saved = _replay(tx, request)
    if saved:
        return saved
    account = tx.get("accounts", d["customer"])
    if account["balance"] < d["amount"]:
        tx.put("declines", d["order_id"], {"at": ctx.now})  # for the grader: a real refusal
        return _save(tx, request, {"status": "declined"})
    tx.update("accounts", d["customer"], balance=account["balance"] - d["amount"])
    # One payment row per request key: without a key, every call takes money again.
    row_key = d["order_id"] + "-" + (request.idempotency_key or ctx.new_id("pay"))
    row: dict[str, Any] = {"order_id": d["order_id"], "amount": d["amount"], "status": status}
    if status == "CAPTURED":
        row["captured_at"] = ctx.now
    tx.insert("payments", row_key, row)
    return _save(tx, request, {"status": status.lower()})


def payment_authorize(request: Request, ctx: Context) -> dict[str, Any]:
    with ctx.db.transaction() as tx:
        return _take(tx, ctx, request, "AUTHORIZED")


def payment_charge(request: Request, ctx: Context) -> dict[str, Any]:
    with ctx.db.transaction() as tx:
        return _take(tx, ctx, request, "CAPTURED")


def _move(request: Request, ctx: Context, src: str, dst: str, refund: bool) -> dict[str, Any]:
    d = request.data
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        moved = 0
        for key, p in tx.find("payments", order_id=d["order_id"], status=src):
            stamp = {"CAPTURED": "captured_at", "REFUNDED": "refunded_at"}.get(dst)
            tx.update("payments", key, status=dst, **({stamp: ctx.now} if stamp else {}))
            moved += p["amount"]
            if refund:
                account = tx.get("accounts", d["customer"])
                tx.update("accounts", d["customer"], balance=account["balance"] + p["amount"])
        return _save(tx, request, {"status": dst.lower(), "amount": moved})


def payment_capture(request: Request, ctx: Context) -> dict[str, Any]:
    return _move(request, ctx, "AUTHORIZED", "CAPTURED", refund=False)


def payment_void(request: Request, ctx: Context) -> dict[str, Any]:
    return _move(request, ctx, "AUTHORIZED", "VOIDED", refund=True)


def payment_refund(request: Request, ctx: Context) -> dict[str, Any]:
    return _move(request, ctx, "CAPTURED", "REFUNDED", refund=True)


def shipping_schedule(request: Request, ctx: Context) -> dict[str, Any]:
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        shipment = tx.get("shipments", oid)
        if tx.get("unserved", oid) or (shipment and shipment["status"] == "CANCELLED"):
            tx.put("refusals", oid, {"at": ctx.now})  # for the grader: a real refusal
            return {"status": "refused"}
        if not shipment:
            tx.insert("shipments", oid, {"status": "SCHEDULED", "scheduled_at": ctx.now})
    return {"status": "scheduled"}


def on_cancel_shipment(event: Event, ctx: Context) -> None:
    oid = event.data["order_id"]
    with ctx.db.transaction() as tx:
        shipment = tx.get("shipments", oid)
        if shipment and shipment["status"] == "SCHEDULED":
            tx.update("shipments", oid, status="CANCELLED", cancelled_at=ctx.now)
        elif not shipment:
            tx.insert(
                "shipments", oid, {"status": "CANCELLED"}
            )  # a late schedule request is refused
