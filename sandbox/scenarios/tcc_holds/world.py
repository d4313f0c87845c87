# Trusted Payment and Inventory for the tcc_holds scenario: two participants of a try-confirm/cancel
# checkout whose holds expire by themselves.
#
# Each keeps pool rows (Payment: accounts[customer] {balance, initial}; Inventory: stock[sku]
# {available, initial}) and holds[hold key] {order_id, owner, size, status, held_at, expires_at,
# confirmed_at, released_at}. A try moves the size from the pool into a HELD hold that expires
# terms["hold"]["ms"] after it was taken (never, when that is None: a lesson playground's
# participants without expiry). Expiry is lazy: whenever an operation touches an order, its HELD
# holds whose time is up become LAPSED and give the money or the units back (the grader does the
# same when it reads the final state), so nobody has to send anything for a hold to lapse.
#
# Every operation replays its stored result for a repeated idempotency key. cancel undoes whatever
# happened for the order (a hold or a confirmed hold) and leaves a tombstone, so a try or a confirm
# for that order that arrives later is refused. Grader-only records: refusals[order_id] (a real
# refusal), expired[order_id] (a confirm that arrived after its hold had lapsed).

from typing import Any

from saga_api import Context, Request, Transaction

from sandbox.scenarios.world_prelude import _replay, _save

# service -> (pool table, owner field, size field, pool field, try answer, refusal, confirm answer,
#             confirmed status, cancel answer, status of a cancelled hold, of a cancelled confirm)
_PARTICIPANT = {
    "payment": (
        "accounts",
        "customer",
        "amount",
        "balance",
        "authorized",
        "declined",
        "captured",
        "CAPTURED",
        "cancelled",
        "VOIDED",
        "REFUNDED",
    ),
    "inventory": (
        "stock",
        "sku",
        "qty",
        "available",
        "held",
        "out_of_stock",
        "committed",
        "COMMITTED",
        "released",
        "RELEASED",
        "RETURNED",
    ),
}


def _give_back(tx: Transaction, service: str, hold: dict[str, Any]) -> None:
    table, _, _, field = _PARTICIPANT[service][:4]
    pool = tx.get(table, hold["owner"])
    tx.update(table, hold["owner"], **{field: pool[field] + hold["size"]})


def _lapse(tx: Transaction, ctx: Context, oid: str) -> None:
    """Holds of this order whose time is up lapse now (at the moment they expired)."""
    for key, hold in tx.find("holds", order_id=oid, status="HELD"):
        if hold["expires_at"] is not None and hold["expires_at"] <= ctx.now:
            _give_back(tx, ctx.service, hold)
            tx.update("holds", key, status="LAPSED", released_at=hold["expires_at"])


def _try(request: Request, ctx: Context) -> dict[str, Any]:
    table, owner, size, field, ok, refusal = _PARTICIPANT[ctx.service][:6]
    d = request.data
    oid = d["order_id"]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if tx.get("tombstones", oid):
            return _save(tx, request, {"status": "cancelled"})  # cancelled before it arrived
        pool = tx.get(table, d[owner])
        if pool[field] < d[size]:
            tx.put("refusals", oid, {"at": ctx.now})
            return _save(tx, request, {"status": refusal})
        tx.update(table, d[owner], **{field: pool[field] - d[size]})
        ms = tx.get("terms", "hold")["ms"]
        expires = None if ms is None else ctx.now + ms
        # One hold per request key: without a key, every try holds again.
        tx.insert(
            "holds",
            f"{oid}-{request.idempotency_key or ctx.new_id('hold')}",
            {
                "order_id": oid,
                "owner": d[owner],
                "size": d[size],
                "status": "HELD",
                "held_at": ctx.now,
                "expires_at": expires,
            },
        )
        return _save(tx, request, {"status": ok, "expires_at": expires})


def _confirm(request: Request, ctx: Context) -> dict[str, Any]:
    answer, confirmed = _PARTICIPANT[ctx.service][6:8]
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        if tx.get("tombstones", oid):
            return _save(tx, request, {"status": "cancelled"})
        _lapse(tx, ctx, oid)
        held = tx.find("holds", order_id=oid, status="HELD")
        if held:
            for key, _ in held:
                tx.update("holds", key, status=confirmed, confirmed_at=ctx.now)
            return _save(tx, request, {"status": answer})
        if tx.find("holds", order_id=oid, status=confirmed):
            return _save(tx, request, {"status": answer})  # confirmed before
        lapsed = tx.find("holds", order_id=oid, status="LAPSED")
        if lapsed:
            _, hold = lapsed[-1]
            if not tx.get("expired", oid):
                tx.put(
                    "expired",
                    oid,
                    {"at": ctx.now, "held_at": hold["held_at"], "expires_at": hold["expires_at"]},
                )
            return _save(tx, request, {"status": "expired"})  # too late: the hold has lapsed
        return _save(tx, request, {"status": "no_hold"})


def _cancel(request: Request, ctx: Context) -> dict[str, Any]:
    answer, voided, undone = _PARTICIPANT[ctx.service][8:]
    confirmed = _PARTICIPANT[ctx.service][7]
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        _lapse(tx, ctx, oid)
        for key, hold in tx.find("holds", order_id=oid):
            if hold["status"] in ("HELD", confirmed):
                _give_back(tx, ctx.service, hold)
                status = voided if hold["status"] == "HELD" else undone
                tx.update("holds", key, status=status, released_at=ctx.now)
        tx.put("tombstones", oid, {"at": ctx.now})
        return _save(tx, request, {"status": answer})


def payment_authorize(request: Request, ctx: Context) -> dict[str, Any]:
    return _try(request, ctx)


def payment_capture(request: Request, ctx: Context) -> dict[str, Any]:
    return _confirm(request, ctx)


def payment_cancel(request: Request, ctx: Context) -> dict[str, Any]:
    return _cancel(request, ctx)


def inventory_hold(request: Request, ctx: Context) -> dict[str, Any]:
    return _try(request, ctx)


def inventory_commit(request: Request, ctx: Context) -> dict[str, Any]:
    return _confirm(request, ctx)


def inventory_release(request: Request, ctx: Context) -> dict[str, Any]:
    return _cancel(request, ctx)
