from ..base import Scenario, send_commands


class OrderOutbox(Scenario):
    name = "order_outbox"
    title = "Order service with an outbox"
    summary = ("Write the Order service's PlaceOrder command handler. It must create the order and announce "
               "OrderCreated so that no event is ever lost (committed but never published) or invented "
               "(published but never committed). Commands arrive at least once.")
    lanes = ("client", "order", "fulfilment")
    functions = ("place_order",)
    signatures = {"place_order": "place_order(command, ctx)"}
    invariants = ("no_lost_event", "no_ghost_event")
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash")
    expected = {"reference": "pass", "publish_then_commit": "no_ghost_event",
                "commit_then_publish": "no_lost_event", "starter": "no_ghost_event"}
    ORDERS = {"o1": ("sku-1", 2, 40), "o2": ("sku-2", 1, 25)}

    def setup(self, world):
        world.broker.subscribe("PlaceOrder", "order", "place_order")
        world.broker.subscribe("OrderCreated", "fulfilment", "on_order_created")
        send_commands(world, "client", [
            ("PlaceOrder", {"order_id": oid, "sku": sku, "qty": qty, "amount": amount}, f"corr-{oid}")
            for oid, (sku, qty, amount) in self.ORDERS.items()])

    def observe(self, world, sub, msg):
        if msg["type"] == "OrderCreated" and sub.service == "fulfilment":
            oid = msg["data"].get("order_id")
            if world.stores["order"].get("orders", oid) is None:
                world.note("ghost", f"fulfilment received OrderCreated for {oid} at t={world.now} "
                                    f"but order {oid} was not committed")

    def facts(self, world):
        received: dict[str, set] = {}
        for mid, row in world.stores["fulfilment"].rows("received").items():
            received.setdefault(row["order_id"], set()).add(mid)
        lost, invented = [], []
        for oid in world.stores["order"].rows("orders"):
            if not received.get(oid):
                lost.append(f"order {oid} was committed but fulfilment never received OrderCreated")
        for oid, ids in sorted(received.items()):
            if len(ids) > 1:
                invented.append(f"fulfilment received {len(ids)} different OrderCreated events for {oid}")
        return {"no_lost_event": lost, "no_ghost_event": invented}


SCENARIO = OrderOutbox()
