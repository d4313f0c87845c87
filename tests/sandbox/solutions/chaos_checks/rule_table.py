# A table of named rules, each a small function yielding messages; every fault on the menu.
FAULTS = "crash duplicate delay relay_crash out_of_stock declined late_answer"


class Run:
    def __init__(self, run):
        self.raw = run
        self.orders = {o["order_id"]: o for o in run["orders"]}
        self.tables = run["stores"]

    def rows(self, service, table):
        return list(self.tables[service].get(table, {}).values())

    def status(self, oid):
        return self.tables["order"].get("orders", {}).get(oid, {}).get("status", "missing")

    def live(self, service, table, oid, state):
        return [r for r in self.rows(service, table) if r.get("order_id") == oid and r.get("status") == state]


def ends(r):
    for oid in r.orders:
        if r.status(oid) not in ("CONFIRMED", "CANCELLED"):
            yield f"order {oid} ends {r.status(oid)}"


def outcome_matches(r):
    for oid, o in r.orders.items():
        units = sum(x["qty"] for x in r.live("inventory", "reservations", oid, "RESERVED"))
        money = sum(x["amount"] for x in r.live("payment", "payments", oid, "CAPTURED"))
        if r.status(oid) == "CONFIRMED" and (units != o["qty"] or money != o["amount"]):
            yield f"order {oid} is confirmed with {units} unit(s) and {money} captured"
        if r.status(oid) == "CANCELLED" and (units or money):
            yield f"order {oid} is cancelled with {units} unit(s) and {money} captured"


def no_stock_from_nowhere(r):
    for sku, n in r.raw["initial"]["stock"].items():
        available = r.tables["inventory"]["stock"][sku]["available"]
        reserved = sum(x["qty"] for x in r.rows("inventory", "reservations")
                       if x["sku"] == sku and x["status"] == "RESERVED")
        if available + reserved != n:
            yield f"{sku}: {available} + {reserved} != {n}"


def one_conversation(r):
    for e in r.raw["events"]:
        oid = e["data"].get("order_id") if isinstance(e["data"], dict) else None
        if oid in r.orders and e["correlation_id"] != r.orders[oid]["correlation_id"]:
            yield f"{e['id']} ({e['type']}) has correlation id {e['correlation_id']}"


def nothing_given_up(r):
    for d in r.raw["dead_letters"]:
        yield f"{d['id']} was dead-lettered by {d['handler']}"


RULES = [ends, outcome_matches, no_stock_from_nowhere, one_conversation, nothing_given_up]


def check(run):
    r = Run(run)
    return [message for rule in RULES for message in rule(r)]
