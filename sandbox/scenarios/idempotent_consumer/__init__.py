from ..base import Scenario, commit_outbox


class IdempotentConsumer(Scenario):
    name = "idempotent_consumer"
    title = "Idempotent consumer"
    summary = ("Payment publishes PaymentCaptured events, at least once. Write the Order service's handler: "
               "it must confirm each order exactly once and emit OrderConfirmed through the outbox, however "
               "many times an event arrives.")
    lanes = ("payment", "order", "shipping")
    functions = ("on_payment_captured",)
    signatures = {"on_payment_captured": "on_payment_captured(event, ctx)"}
    invariants = ("confirmed_once", "no_lost_event")
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash")
    expected = {"reference": "pass", "no_dedup": "confirmed_once", "dedup_after_effect": "confirmed_once",
                "publish_after_commit": "no_lost_event", "starter": "confirmed_once"}
    ORDERS = {"o1": 40, "o2": 25}

    def setup(self, world):
        world.broker.subscribe("PaymentCaptured", "order", "on_payment_captured")
        world.broker.subscribe("OrderConfirmed", "shipping", "on_order_confirmed")
        orders = world.stores["order"].table("orders")
        for oid, amount in self.ORDERS.items():
            orders[oid] = {"status": "PENDING", "amount": amount}
        commit_outbox(world, "payment", [("PaymentCaptured", {"order_id": oid, "amount": amount}, f"corr-{oid}")
                                         for oid, amount in self.ORDERS.items()])

    def facts(self, world):
        orders = world.stores["order"].rows("orders")
        shipped = {}
        for row in world.stores["shipping"].rows("shipments").values():
            shipped[row["order_id"]] = shipped.get(row["order_id"], 0) + 1
        once, lost = [], []
        for oid in self.ORDERS:
            n = shipped.get(oid, 0)
            if n > 1:
                once.append(f"order {oid} was confirmed {n} times (shipping received {n} OrderConfirmed events)")
            status = (orders.get(oid) or {}).get("status")
            if status != "CONFIRMED":
                lost.append(f"order {oid} was paid but is {status}")
            elif n == 0:
                lost.append(f"order {oid} is CONFIRMED but no OrderConfirmed event ever reached shipping")
        return {"confirmed_once": once, "no_lost_event": lost}


SCENARIO = IdempotentConsumer()
