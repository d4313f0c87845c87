from ..base import Scenario, send_commands

ORDERS = {"o1": {"order_id": "o1", "sku": "sku-1", "qty": 2}, "o2": {"order_id": "o2", "sku": "sku-1", "qty": 1}}


class CorrelationIds(Scenario):
    name = "correlation_ids"
    title = "Correlation ids end to end"
    summary = ("Write the Order service's place_order and the Inventory service's on_order_created. Every "
               "event you emit and every call you make must carry the correlation id of the order it belongs "
               "to, copied from the message that caused it, so one order can be followed end to end.")
    lanes = ("client", "order", "inventory", "audit", "payment")
    functions = ("place_order", "on_order_created")
    signatures = {"place_order": "place_order(command, ctx)", "on_order_created": "on_order_created(event, ctx)"}
    invariants = ("correlation_ids_present", "no_lost_event")
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash")
    rpc_ops = {("audit", "record"): lambda world, data: {"recorded": True}}
    expected = {"reference": "pass", "missing_on_event": "correlation_ids_present",
                "new_correlation_id": "correlation_ids_present", "missing_on_call": "correlation_ids_present",
                "starter": "correlation_ids_present"}

    def setup(self, world):
        world.broker.subscribe("PlaceOrder", "order", "place_order")
        world.broker.subscribe("OrderCreated", "inventory", "on_order_created")
        world.broker.subscribe("InventoryReserved", "payment", "on_inventory_reserved")
        world.stores["inventory"].table("stock")["sku-1"] = {"available": 10}
        send_commands(world, "client", [("PlaceOrder", dict(o), f"corr-{oid}") for oid, o in ORDERS.items()])

    def facts(self, world):
        seen = {row.get("order_id") for row in world.stores["payment"].rows("received").values()}
        return {"no_lost_event": [f"InventoryReserved for {oid} never reached payment"
                                  for oid in ORDERS if oid not in seen]}


SCENARIO = CorrelationIds()
