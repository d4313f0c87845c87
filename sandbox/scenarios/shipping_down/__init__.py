from ..base import Scenario, send_commands

ORDERS = {
    "o1": {"order_id": "o1", "customer": "alice", "amount": 40},
    "o2": {"order_id": "o2", "customer": "bob", "amount": 25},
}
BALANCE = 100
LONG_OUTAGE_END = 50_000
SAMPLE_MS = 250
CHARGED_WITHOUT_SHIPMENT_SLA = 10_000   # a customer may be charged this long before shipping accepts


class ShippingDown(Scenario):
    name = "shipping_down"
    title = "Shipping is down (mini challenge)"
    summary = ("Shipping is down when orders arrive, for a few seconds or (sometimes) for most of the "
               "consistency window. Write the checkout orchestrator so that no customer is ever left charged "
               "without a guaranteed shipment: every order ends CONFIRMED (money captured, shipment scheduled) "
               "or CANCELLED (nothing captured, any hold released).")
    lanes = ("client", "order", "payment", "shipping")
    functions = ("checkout",)
    signatures = {"checkout": "checkout(command, ctx)"}
    invariants = ("no_charge_without_shipment", "orders_resolve", "confirmed_is_complete", "cancelled_is_clean",
                  "no_double_charge", "conservation")
    fault_kinds = ("crash", "duplicate", "declined", "outage")
    rpc_ops = {("payment", op): f"payment_{op}" for op in ("authorize", "capture", "void", "charge", "refund")}
    rpc_ops.update({("shipping", "schedule"): "shipping_schedule"})
    expected = {"reference": "pass", "capture_first": "no_charge_without_shipment",
                "starter": "no_charge_without_shipment"}

    def setup(self, world):
        world.broker.subscribe("PlaceOrder", "order", "checkout")
        world.broker.subscribe("CancelShipment", "shipping", "on_cancel_shipment")
        accounts = world.stores["payment"].table("accounts")
        for oid, o in ORDERS.items():
            declined = world.plan.fires("declined", f"payment:{oid}", 0)
            accounts[o["customer"]] = {"balance": 10 if declined else BALANCE, "initial": 10 if declined else BALANCE}
        long = world.plan.fires("outage", "shipping:long", 0)
        end = LONG_OUTAGE_END if long else world.rng.choice((1500, 3000, 4500, 6000))
        world.outages["shipping"] = [(0, end)]
        world.log("blocked", "shipping", f"shipping is down until t={end}")
        send_commands(world, "client", [("PlaceOrder", dict(o), f"corr-{oid}") for oid, o in ORDERS.items()])
        world.sched.at(SAMPLE_MS, self._sample, world)

    def _sample(self, world):
        # Measures, in virtual time, how long each customer has been charged without a
        # scheduled shipment (the end state alone would hide a long wait).
        pay, ship = world.stores["payment"], world.stores["shipping"]
        open_orders = 0
        for oid in ORDERS:
            if (world.stores["order"].get("orders", oid) or {}).get("status") not in ("CONFIRMED", "CANCELLED"):
                open_orders += 1
            captured = any(p.get("order_id") == oid and p.get("status") == "CAPTURED"
                           for p in pay.rows("payments").values())
            if captured and (ship.get("shipments", oid) or {}).get("status") != "SCHEDULED":
                world.notes.setdefault("charged_ms", {}).setdefault(oid, 0)
                world.notes["charged_ms"][oid] += SAMPLE_MS
        if open_orders:
            world.sched.after(SAMPLE_MS, self._sample, world)

    def facts(self, world):
        pay, ship = world.stores["payment"], world.stores["shipping"]
        orders, charges, conservation, unshipped = {}, {}, [], []
        for oid, o in ORDERS.items():
            rows = [p for p in pay.rows("payments").values() if p.get("order_id") == oid]
            captured = sum(p.get("amount", 0) for p in rows if p.get("status") == "CAPTURED")
            held = sum(p.get("amount", 0) for p in rows if p.get("status") == "AUTHORIZED")
            charges[f"order {oid}"] = sum(1 for p in rows if p.get("status") in ("CAPTURED", "REFUNDED"))
            shipment = (ship.get("shipments", oid) or {}).get("status")
            row = world.stores["order"].get("orders", oid) or {}
            waited = world.notes.get("charged_ms", {}).get(oid, 0)
            if captured and shipment != "SCHEDULED":
                unshipped.append(f"{o['customer']} was charged {captured} for {oid} but no shipment is scheduled")
            elif waited > CHARGED_WITHOUT_SHIPMENT_SLA:
                unshipped.append(f"{o['customer']} was charged for {oid} for {waited / 1000:.1f} s before "
                                 f"shipping accepted it (allowed: {CHARGED_WITHOUT_SHIPMENT_SLA / 1000:.0f} s)")
            missing = ([] if captured >= o["amount"] else ["its money was not captured"]) + \
                      ([] if shipment == "SCHEDULED" else ["no shipment is scheduled"])
            held_list = ([f"{captured} was captured"] if captured else []) + \
                        ([f"{held} is still held by an authorization"] if held else []) + \
                        (["a shipment is still scheduled"] if shipment == "SCHEDULED" else [])
            orders[oid] = {"status": row.get("status", "never created"), "missing": missing, "held": held_list}
            account = pay.get("accounts", o["customer"]) or {}
            conservation.append((f"{o['customer']}'s money (balance + held + captured)", account.get("initial"),
                                 account.get("balance", 0) + captured + held))
        return {"orders": orders, "charges": charges, "conservation": conservation,
                "no_charge_without_shipment": unshipped}


SCENARIO = ShippingDown()
