"""The shop shared by the order saga scenarios: orders, stock, customers' money.

Store layout (the learner's code and the trusted participants both use it):
  order.orders[order_id]            {"status": "PENDING" | "CONFIRMED" | "CANCELLED", ...}
  inventory.stock[sku]              {"available": int}
  inventory.reservations[any key]   {"order_id", "sku", "qty", "status": "RESERVED" | "RELEASED"}
  payment.accounts[customer]        {"balance": int}
  payment.payments[any key]         {"order_id", "amount", "status": "CAPTURED" | "REFUNDED"}
"""
from __future__ import annotations

ORDERS = {
    "o1": {"order_id": "o1", "customer": "alice", "sku": "sku-1", "qty": 2, "amount": 40},
    "o2": {"order_id": "o2", "customer": "bob", "sku": "sku-2", "qty": 1, "amount": 25},
}
STOCK = 5
BALANCE = 100


def setup_shop(world, orders=ORDERS) -> None:
    stock = world.stores["inventory"].table("stock")
    accounts = world.stores["payment"].table("accounts")
    for oid, o in orders.items():
        out = world.plan.fires("out_of_stock", f"inventory:{oid}", 0)
        stock[o["sku"]] = {"available": 0 if out else STOCK}
        declined = world.plan.fires("declined", f"payment:{oid}", 0)
        accounts[o["customer"]] = {"balance": 10 if declined else BALANCE}


def shop_facts(world, orders=ORDERS, order_service="order") -> dict:
    inv, pay = world.stores["inventory"], world.stores["payment"]
    reserved: dict[str, int] = {}
    for r in inv.rows("reservations").values():
        if r.get("status") == "RESERVED":
            reserved[r.get("order_id")] = reserved.get(r.get("order_id"), 0) + _int(r.get("qty"))
    captured: dict[str, int] = {}
    charges: dict[str, int] = {}
    for p in pay.rows("payments").values():
        oid = p.get("order_id")
        charges[oid] = charges.get(oid, 0) + 1
        if p.get("status") == "CAPTURED":
            captured[oid] = captured.get(oid, 0) + _int(p.get("amount"))
    facts_orders = {}
    conservation = []
    for oid, o in orders.items():
        row = world.stores[order_service].get("orders", oid) or {}
        missing, held = [], []
        if reserved.get(oid, 0) < o["qty"]:
            missing.append("its stock is not reserved")
        if captured.get(oid, 0) < o["amount"]:
            missing.append("its money was not captured")
        if reserved.get(oid):
            held.append(f"{reserved[oid]} unit(s) of {o['sku']} are still reserved")
        if captured.get(oid):
            held.append(f"{captured[oid]} of the customer's money is still captured")
        facts_orders[oid] = {"status": row.get("status", "never created"), "missing": missing, "held": held}
        stock_now = _int((inv.get("stock", o["sku"]) or {}).get("available"))
        start = 0 if _out(world, oid) else STOCK
        conservation.append((f"units of {o['sku']} (available + reserved)", start,
                             stock_now + sum(_int(r.get("qty")) for r in inv.rows("reservations").values()
                                             if r.get("status") == "RESERVED" and r.get("sku") == o["sku"])))
        balance = _int((pay.get("accounts", o["customer"]) or {}).get("balance"))
        initial = 10 if _declined(world, oid) else BALANCE
        conservation.append((f"{o['customer']}'s money (balance + captured)", initial,
                             balance + captured.get(oid, 0)))
    return {"orders": facts_orders, "charges": {f"order {k}": v for k, v in charges.items()},
            "conservation": conservation}


def _out(world, oid) -> bool:
    return any(f["kind"] == "out_of_stock" and f["site"] == f"inventory:{oid}" for f in world.plan.fired)


def _declined(world, oid) -> bool:
    return any(f["kind"] == "declined" and f["site"] == f"payment:{oid}" for f in world.plan.fired)


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def lost_events(world, expectations) -> list[str]:
    """``expectations``: (order_id, event type, why) that must have been published."""
    published = {(m["type"], m["data"].get("order_id")) for m in world.broker.published
                 if isinstance(m.get("data"), dict)}
    return [f"{why} but {type} for {oid} was never published"
            for oid, type, why in expectations if (type, oid) not in published]


def choreography_expectations(world, orders=ORDERS) -> list:
    out = []
    inv, pay = world.stores["inventory"], world.stores["payment"]
    for oid in orders:
        if world.stores["order"].get("orders", oid):
            out.append((oid, "OrderCreated", f"order {oid} was committed"))
        if any(r.get("order_id") == oid for r in inv.rows("reservations").values()):
            out.append((oid, "InventoryReserved", f"stock was reserved for {oid}"))
        if any(p.get("order_id") == oid for p in pay.rows("payments").values()):
            out.append((oid, "PaymentSucceeded", f"payment was captured for {oid}"))
    return out
