from ..base import Scenario, send_commands
from ..shop import ORDERS, lost_events, setup_shop, shop_facts

OPS = {("inventory", "reserve"): "inventory_reserve", ("inventory", "release"): "inventory_release",
       ("payment", "capture"): "payment_capture", ("payment", "refund"): "payment_refund"}


class OrderSagaOrchestration(Scenario):
    name = "order_saga_orchestration"
    title = "Order saga by orchestration"
    summary = ("The same order flow, driven by one orchestrator in the Order service that calls Inventory "
               "(reserve/release) and Payment (capture/refund) and keeps the saga's state. Calls time out, "
               "sometimes after the other side acted; the orchestrator crashes and its command is redelivered.")
    lanes = ("client", "order", "inventory", "payment")
    functions = ("handle_place_order",)
    signatures = {"handle_place_order": "handle_place_order(command, ctx)"}
    invariants = ("orders_resolve", "confirmed_is_complete", "cancelled_is_clean", "conservation",
                  "no_double_charge", "no_lost_event", "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "delay", "request_lost", "reply_lost", "out_of_stock", "declined")
    rpc_ops = OPS
    expected = {"reference": "pass", "missing_compensation": "cancelled_is_clean",
                "no_idempotency_keys": "no_double_charge", "timeout_means_failure": "cancelled_is_clean",
                "starter": "orders_resolve"}

    def setup(self, world):
        world.broker.subscribe("PlaceOrder", "order", "handle_place_order")
        setup_shop(world)
        send_commands(world, "client", [("PlaceOrder", dict(o), f"corr-{oid}") for oid, o in ORDERS.items()])

    def facts(self, world):
        expect = []
        for oid in ORDERS:
            status = (world.stores["order"].get("orders", oid) or {}).get("status")
            if status in ("CONFIRMED", "CANCELLED"):
                expect.append((oid, "Order" + status.capitalize(), f"order {oid} is {status}"))
        return {**shop_facts(world), "no_lost_event": lost_events(world, expect)}


SCENARIO = OrderSagaOrchestration()
