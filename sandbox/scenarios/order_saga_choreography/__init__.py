from ..base import Scenario, send_commands
from ..shop import ORDERS, choreography_expectations, lost_events, setup_shop, shop_facts

SUBSCRIPTIONS = [
    ("PlaceOrder", "order", "place_order"),
    ("OrderCreated", "inventory", "on_order_created"),
    ("InventoryReserved", "payment", "on_inventory_reserved"),
    ("InventoryFailed", "order", "on_inventory_failed"),
    ("PaymentSucceeded", "order", "on_payment_succeeded"),
    ("PaymentFailed", "order", "on_payment_failed"),
    ("ReleaseStock", "inventory", "on_release_stock"),
]


class OrderSagaChoreography(Scenario):
    name = "order_saga_choreography"
    title = "Order saga by choreography"
    summary = ("Order, Inventory and Payment react to each other's events (worked example A). Write all "
               "seven handlers so that every order ends CONFIRMED (stock reserved, money captured) or "
               "CANCELLED (stock released, nothing captured), despite duplicates, crashes and a relay that "
               "crashes.")
    lanes = ("client", "order", "inventory", "payment")
    functions = tuple(fn for _, _, fn in SUBSCRIPTIONS)
    signatures = {fn: f"{fn}({'command' if fn == 'place_order' else 'event'}, ctx)" for fn in functions}
    invariants = ("orders_resolve", "confirmed_is_complete", "cancelled_is_clean", "conservation",
                  "no_double_charge", "no_lost_event", "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash", "out_of_stock", "declined")
    expected = {"reference": "pass", "missing_compensation": "cancelled_is_clean",
                "no_dedup": "no_double_charge", "no_outbox": "orders_resolve",
                "non_idempotent_compensation": "conservation", "starter": "no_double_charge"}

    def setup(self, world):
        for type, service, fn in SUBSCRIPTIONS:
            world.broker.subscribe(type, service, fn)
        setup_shop(world)
        send_commands(world, "client", [("PlaceOrder", dict(o), f"corr-{oid}") for oid, o in ORDERS.items()])

    def facts(self, world):
        return {**shop_facts(world), "no_lost_event": lost_events(world, choreography_expectations(world))}


SCENARIO = OrderSagaChoreography()
