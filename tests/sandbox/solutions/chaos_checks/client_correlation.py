# Everything is compared with what the client sent: the PlaceOrder commands among the events.
FAULTS = "relay_crash, crash, delay, declined, late_answer"

FINAL = {"CONFIRMED", "CANCELLED"}


def check(run):
    commands = {e["data"]["order_id"]: e for e in run["events"] if e["type"] == "PlaceOrder"}
    orders = run["stores"]["order"].get("orders", {})
    inventory = run["stores"]["inventory"]
    payment = run["stores"]["payment"]
    out = []
    for oid, command in sorted(commands.items()):
        row = orders.get(oid)
        if row is None or row.get("status") not in FINAL:
            out.append(f"{oid}: no final status")
            continue
        held = [r for r in inventory.get("reservations", {}).values()
                if r["order_id"] == oid and r["status"] == "RESERVED"]
        taken = [p for p in payment.get("payments", {}).values()
                 if p["order_id"] == oid and p["status"] == "CAPTURED"]
        want = (command["data"]["qty"], command["data"]["amount"]) if row["status"] == "CONFIRMED" else (0, 0)
        got = (sum(r["qty"] for r in held), sum(p["amount"] for p in taken))
        if got != want:
            out.append(f"{oid} ({row['status']}): holds {got[0]} units and {got[1]} money, expected {want}")
    for event in run["events"]:
        oid = event["data"].get("order_id") if isinstance(event["data"], dict) else None
        if oid in commands and event["correlation_id"] != commands[oid]["correlation_id"]:
            out.append(f"{event['type']} {event['id']} does not carry {oid}'s correlation id")
    start = run["initial"]["stock"]
    for sku, row in inventory.get("stock", {}).items():
        reserved = sum(r["qty"] for r in inventory.get("reservations", {}).values()
                       if r["sku"] == sku and r["status"] == "RESERVED")
        if row["available"] + reserved != start.get(sku):
            out.append(f"stock of {sku} is not conserved")
    for dead in run["dead_letters"]:
        out.append(f"{dead['type']} {dead['id']} dead-lettered: {dead['why']}")
    return out
