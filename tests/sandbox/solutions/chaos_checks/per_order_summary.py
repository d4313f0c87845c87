# One summary per order first, then judge each summary; only crashes and duplicates are injected.
FAULTS = "crash, duplicate, late_answer"


def summarise(run):
    stores = run["stores"]
    summary = {}
    for order in run["orders"]:
        oid = order["order_id"]
        reservations = [r for r in stores["inventory"].get("reservations", {}).values()
                        if r.get("order_id") == oid and r.get("status") == "RESERVED"]
        payments = [p for p in stores["payment"].get("payments", {}).values()
                    if p.get("order_id") == oid and p.get("status") == "CAPTURED"]
        summary[oid] = {
            "order": order,
            "status": stores["order"].get("orders", {}).get(oid, {}).get("status"),
            "units": sum(r["qty"] for r in reservations),
            "paid": sum(p["amount"] for p in payments),
        }
    return summary


def check(run):
    problems = []
    for oid, s in summarise(run).items():
        o = s["order"]
        if s["status"] == "CONFIRMED" and (s["units"], s["paid"]) != (o["qty"], o["amount"]):
            problems.append(f"{oid} CONFIRMED with {s['units']} units and {s['paid']} paid, "
                            f"expected {o['qty']} and {o['amount']}")
        elif s["status"] == "CANCELLED" and (s["units"] or s["paid"]):
            problems.append(f"{oid} CANCELLED but still holds {s['units']} units, {s['paid']} paid")
        elif s["status"] not in ("CONFIRMED", "CANCELLED"):
            problems.append(f"{oid} is stuck in {s['status']}")
    stock = run["stores"]["inventory"].get("stock", {})
    reservations = run["stores"]["inventory"].get("reservations", {}).values()
    for sku, initial in run["initial"]["stock"].items():
        held = sum(r["qty"] for r in reservations if r["sku"] == sku and r["status"] == "RESERVED")
        if stock[sku]["available"] != initial - held:
            problems.append(f"{sku} shows {stock[sku]['available']} available, expected {initial - held}")
    by_order = {o["order_id"]: o["correlation_id"] for o in run["orders"]}
    for e in run["events"]:
        oid = (e["data"] or {}).get("order_id")
        if oid in by_order and e["correlation_id"] != by_order[oid]:
            problems.append(f"event {e['id']} lost the correlation id of {oid}")
    problems += [f"dead letter {d['id']} ({d['type']})" for d in run["dead_letters"]]
    return problems
