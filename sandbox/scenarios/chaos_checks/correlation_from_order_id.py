FAULTS = "crash, duplicate, delay, relay_crash, out_of_stock, declined, late_answer"


def check(run):
    problems = []
    for rule in (resolved, confirmed_complete, cancelled_clean, stock_conserved,
                 money_conserved, same_correlation_id, nothing_dead):
        problems += rule(run)
    return problems


def rows(run, service, table):
    return run["stores"][service].get(table, {})


def held(run, table, service, order_id, live):
    """The rows of one order in a table, and how many of them are still live."""
    mine = [r for r in rows(run, service, table).values() if r.get("order_id") == order_id]
    return [r for r in mine if r.get("status") == live]


def resolved(run):
    out = []
    for order in run["orders"]:
        row = rows(run, "order", "orders").get(order["order_id"])
        status = row and row.get("status")
        if status not in ("CONFIRMED", "CANCELLED"):
            out.append(f"order {order['order_id']} ended {status or 'unsaved'}, "
                       "neither CONFIRMED nor CANCELLED")
    return out


def status(run, order):
    return (rows(run, "order", "orders").get(order["order_id"]) or {}).get("status")


def confirmed_complete(run):
    out = []
    for order in run["orders"]:
        if status(run, order) != "CONFIRMED":
            continue
        reserved = held(run, "reservations", "inventory", order["order_id"], "RESERVED")
        paid = held(run, "payments", "payment", order["order_id"], "CAPTURED")
        if sum(r.get("qty", 0) for r in reserved) != order["qty"]:
            out.append(f"confirmed order {order['order_id']} holds "
                       f"{sum(r.get('qty', 0) for r in reserved)} unit(s), not {order['qty']}")
        if sum(p.get("amount", 0) for p in paid) != order["amount"]:
            out.append(f"confirmed order {order['order_id']} was charged "
                       f"{sum(p.get('amount', 0) for p in paid)}, not {order['amount']}")
    return out


def cancelled_clean(run):
    out = []
    for order in run["orders"]:
        if status(run, order) != "CANCELLED":
            continue
        if held(run, "reservations", "inventory", order["order_id"], "RESERVED"):
            out.append(f"cancelled order {order['order_id']} still holds stock of {order['sku']}")
        if held(run, "payments", "payment", order["order_id"], "CAPTURED"):
            out.append(f"cancelled order {order['order_id']} still has money captured "
                       f"from {order['customer']}")
    return out


def stock_conserved(run):
    out = []
    for sku, start in run["initial"]["stock"].items():
        now = rows(run, "inventory", "stock").get(sku, {}).get("available", 0)
        reserved = sum(r.get("qty", 0) for r in rows(run, "inventory", "reservations").values()
                       if r.get("sku") == sku and r.get("status") == "RESERVED")
        if now + reserved != start:
            out.append(f"{sku}: {now} available + {reserved} reserved, but there were {start}")
    return out


def money_conserved(run):
    out = []
    orders = {o["order_id"]: o for o in run["orders"]}
    for customer, start in run["initial"]["balance"].items():
        now = rows(run, "payment", "accounts").get(customer, {}).get("balance", 0)
        taken = sum(p.get("amount", 0) for p in rows(run, "payment", "payments").values()
                    if p.get("status") == "CAPTURED"
                    and orders.get(p.get("order_id"), {}).get("customer") == customer)
        if now + taken != start:
            out.append(f"{customer}: balance {now} + {taken} captured, but it started at {start}")
    return out


def same_correlation_id(run):
    corr = {o["order_id"]: o["correlation_id"] for o in run["orders"]}
    out = []
    for event in run["events"]:
        oid = (event.get("data") or {}).get("order_id")
        if oid in corr and event["correlation_id"] != "corr-" + oid:
            out.append(f"{event['type']} {event['id']} for {oid} carries correlation id "
                       f"{event['correlation_id']!r}, not {'corr-' + oid!r}")
    return out


def nothing_dead(run):
    return [f"{m['type']} {m['id']} went to the dead-letter queue from {m['handler']}: {m['why']}"
            for m in run["dead_letters"]]
