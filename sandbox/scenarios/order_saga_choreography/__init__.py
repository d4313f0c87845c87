"""Order saga by choreography (worked example A): the learner writes all seven handlers.

Data families (see ``shop.py``): ``ORDERS_PER_RUN`` orders per run, drawn from the schedule's seed
(one of ``shop.DATA_SETS`` data sets per grading): random order ids, customers, SKUs and correlation
ids (never derived from the order id); three orders of two customers reserve the last units of one
SKU; twin orders (same customer, SKU, quantity and amount, different ids) of which the second is
declined because the first took the customer's money, so its reservation is released while its
twin's is kept; in half the data sets the same customer's cheaper order is paid (a second capture
for one customer), in the other half a late order is refused out of stock. The last units always,
and the last money sometimes, fit exactly, so ``>`` instead of ``>=`` refuses an order that could be
served. The ``out_of_stock`` and ``declined`` faults empty a SKU or an account at the start.
Lesson playgrounds (fault plans in ``rules`` mode) use the classic two fixed orders instead.

Stock rises part-way through a run (P2's reservation is released while P3 may still be redelivered),
so a refusal that is announced before the handler's transaction commits can be contradicted by a
reservation on redelivery: ``one_answer_per_order`` catches that. ``no_ghost_event`` also holds a
ReleaseStock that Order publishes to the order's committed cancellation.

Refusals are the learner's own: ``cancelled_for_a_reason`` compares each InventoryFailed /
PaymentFailed with the stock or balance the refusing handler saw (recorded as the message is
delivered, which is the snapshot the handler reads).

The saga has a timeout (trusted, ``world.py``): ``ORDER_TIMEOUT_MS`` after an order was placed, Order's
``order_timeout`` cancels it if it is still PENDING and sends ReleaseStock. The ``late_answer`` fault
holds one of the saga's messages (OrderCreated, InventoryReserved, PaymentSucceeded, PaymentFailed)
back until after that timeout, so a step acts or answers for an order that is already cancelled: a
late PaymentSucceeded must be refunded (RefundPayment, handled by the trusted ``on_refund_payment`` in
Payment) and its stock released, never confirmed or dropped. A cancellation by the timeout is a
reason for ``cancelled_for_a_reason``, and so is refusing a step for an order already CANCELLED. In
a calm run every order is answered long before its timeout, so an order the timeout had to cancel
although ``late_answer`` held none of its messages back was stuck: ``orders_resolve`` says so.
Lesson playgrounds run the timeout only when their ``ORDER_TIMEOUT`` flag is on.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from .. import shop as shop_module
from ..base import Scenario, send_commands
from ..shop import (
    CHOREOGRAPHY_ANNOUNCES,
    ORDERS,
    SPACING,
    choreography_expectations,
    commands,
    dead_letters,
    draw_shop,
    lost_events,
    saga_constants,
    setup_shop,
    shop,
    shop_facts,
    tap_publishes,
)

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...broker import Subscription
    from ...world import World

SUBSCRIPTIONS = [
    ("PlaceOrder", "order", "place_order"),
    ("OrderCreated", "inventory", "on_order_created"),
    ("InventoryReserved", "payment", "on_inventory_reserved"),
    ("InventoryFailed", "order", "on_inventory_failed"),
    ("PaymentSucceeded", "order", "on_payment_succeeded"),
    ("PaymentFailed", "order", "on_payment_failed"),
    ("ReleaseStock", "inventory", "on_release_stock"),
]
# The trusted parts (world.py): the saga's timeout in Order, the refund in Payment.
TRUSTED_SUBSCRIPTIONS = [
    ("OrderTimeout", "order", "order_timeout"),
    ("RefundPayment", "payment", "on_refund_payment"),
]
# The handlers whose deliveries ``observe`` records something for (it ignores the others).
_OBSERVED = frozenset({"order_timeout", "on_order_created", "on_inventory_reserved"})
# What the fault late_answer can hold back past the timeout (a step's request or its answer).
LATE_TYPES = ("OrderCreated", "InventoryReserved", "PaymentSucceeded", "PaymentFailed")


class OrderSagaChoreography(Scenario):
    name = "order_saga_choreography"
    title = "Order saga by choreography"
    summary = (
        "Order, Inventory and Payment react to each other's events (worked example A). Write all "
        "seven handlers so that every order ends CONFIRMED (stock reserved, money captured) or "
        "CANCELLED (stock released, nothing captured), despite duplicates, crashes and a relay that "
        "crashes, while orders compete for the same stock and the same customer's money."
    )
    lanes = ("client", "order", "inventory", "payment")
    functions = tuple(fn for _, _, fn in SUBSCRIPTIONS)
    signatures = {
        fn: f"{fn}({'command' if fn == 'place_order' else 'event'}, ctx)" for fn in functions
    }
    invariants = (
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "conservation",
        "no_double_charge",
        "no_lost_event",
        "no_ghost_event",
        "correlation_ids_present",
        "cancelled_for_a_reason",
        "one_answer_per_order",
        "nothing_dead_lettered",
    )
    fault_kinds = (
        "crash",
        "duplicate",
        "delay",
        "relay_crash",
        "out_of_stock",
        "declined",
        "late_answer",
    )
    expected = {
        "reference": "pass",
        "missing_compensation": "cancelled_is_clean",
        "no_dedup": "cancelled_is_clean",
        "no_outbox": "orders_resolve",
        "non_idempotent_compensation": "conservation",
        "starter": "cancelled_is_clean",
        "reservation_by_sku": "conservation",
        "payment_by_customer": "orders_resolve",
        "payment_put_by_customer": "confirmed_is_complete",
        "release_by_sku": "confirmed_is_complete",
        "dedup_by_content": "orders_resolve",
        "rebuilt_correlation_id": "correlation_ids_present",
        "strict_comparison": "cancelled_for_a_reason",
        "inbox_by_order_id": "cancelled_is_clean",
        "uncaught_duplicate_key": "nothing_dead_lettered",
        "refusal_before_commit": "one_answer_per_order",
        "release_before_cancel": "no_ghost_event",
        "drops_late_success": "cancelled_is_clean",
        "confirms_late_success": "confirmed_is_complete",
        "refund_without_release": "cancelled_is_clean",
    }
    ORDERS_PER_RUN = shop_module.ORDERS_PER_RUN
    ORDER_TIMEOUT_MS = 5000  # the saga's timeout, after the faults stop and before the window ends

    def statement_constants(self) -> dict[str, int | float | str]:
        return {**super().statement_constants(), **saga_constants(self)}

    def configure(self, world: World, constants: dict[str, Any]) -> None:
        # Gradings always run the timeout; a lesson playground (rules mode) only when its flag says so.
        world.notes["timeout_on"] = (
            world.plan.mode != "rules" or constants.get("ORDER_TIMEOUT") is True
        )

    def setup(self, world: World) -> None:
        for type, service, fn in SUBSCRIPTIONS:
            world.broker.subscribe(type, service, fn)
        if world.plan.mode == "rules":  # a lesson playground: the classic two orders
            setup_shop(world, ORDERS)
        else:
            # One data set along: the world every single fault is tried in (seed 0) is then one where a
            # refused order's stock comes back (P3 refused, P2's reservation released), so a refusal
            # published before its commit is contradicted by the redelivery after a single crash.
            setup_shop(world, data=draw_shop(SimpleNamespace(seed=world.seed + 1)))
        world.notes["seen_stock"], world.notes["seen_balance"] = {}, {}
        world.notes["timed_out"], world.notes["seen_cancelled"] = set(), set()
        tap_publishes(world, CHOREOGRAPHY_ANNOUNCES)
        _tap_order_release(world)
        send_commands(world, "client", commands(world), spacing=SPACING)
        for type, service, fn in TRUSTED_SUBSCRIPTIONS:
            world.broker.subscribe(type, service, fn)
        world.broker.late_after = {type: self.ORDER_TIMEOUT_MS for type in LATE_TYPES}
        if world.notes.get("timeout_on", True):
            _start_timeouts(world, self.ORDER_TIMEOUT_MS)

    def observe(self, world: World, subscription: Subscription, msg: dict[str, Any]) -> None:
        # The handler about to run reads exactly this store: remember what it will see.
        sent = msg.get("data")
        data: dict[str, Any] = sent if isinstance(sent, dict) else {}
        order = shop(world)["orders"].get(data.get("order_id"))
        if order is None or subscription.fn not in _OBSERVED:
            return  # (the lookup above stays first: an unhashable order id raises here as ever)
        status = (world.stores["order"].get("orders", order["order_id"]) or {}).get("status")
        if subscription.fn == "order_timeout" and status == "PENDING":
            world.notes["timed_out"].add(order["order_id"])  # the timeout will cancel it
        elif status == "CANCELLED" and subscription.fn in (
            "on_order_created",
            "on_inventory_reserved",
        ):
            world.notes["seen_cancelled"].add(order["order_id"])  # a step for a cancelled order
        if subscription.fn == "on_order_created":
            row = world.stores["inventory"].get("stock", order["sku"]) or {}
            world.notes["seen_stock"].setdefault(order["order_id"], []).append(row.get("available"))
        elif subscription.fn == "on_inventory_reserved":
            row = world.stores["payment"].get("accounts", order["customer"]) or {}
            world.notes["seen_balance"].setdefault(order["order_id"], []).append(row.get("balance"))

    def facts(self, world: World) -> dict[str, Any]:
        facts = shop_facts(world, exact=True)
        facts["no_lost_event"] = lost_events(world, choreography_expectations(world))
        facts["cancelled_for_a_reason"] = _refusals(world, facts)
        facts["orders_resolve"] = _stuck(world)
        facts["one_answer_per_order"] = _answers(world)
        facts["nothing_dead_lettered"] = dead_letters(world)
        return facts


def _start_timeouts(world: World, after_ms: int) -> None:
    """The saga's timeout: OrderTimeout (the order, with its correlation id) reaches Order's trusted
    ``order_timeout`` ``after_ms`` after the client sent the order."""
    for i, (_, order, corr) in enumerate(commands(world)):
        msg = {
            "id": f"timeout-{i + 1}",
            "type": "OrderTimeout",
            "data": order,
            "correlation_id": corr,
            "source": "order",
        }
        world.sched.at(i * SPACING + after_ms, world.broker.publish, "order", msg)


def _tap_order_release(world: World) -> None:
    """A ReleaseStock or RefundPayment that the Order service publishes compensates its cancellation: the
    order must already be committed CANCELLED (a ghost otherwise, noted for ``no_ghost_event``). Another
    service may ask for a release on its own account (Payment after a decline, say): that is not Order's
    cancellation."""
    broker = world.broker
    publish = broker.publish

    def tapped(source: str, msg: dict[str, Any]) -> None:
        data = msg.get("data")
        kind = msg.get("type")
        if (
            kind in ("ReleaseStock", "RefundPayment")
            and source == "order"
            and isinstance(data, dict)
        ):
            oid = data.get("order_id")
            row = world.stores["order"].get("orders", oid) if isinstance(oid, str) else None
            status = (row or {}).get("status", "not saved")
            text = (
                f"{kind} ({msg.get('id')}) was published by Order while order {oid} is {status}, "
                f"not CANCELLED"
            )
            if status != "CANCELLED" and text not in world.notes.get("ghost", ()):
                world.note("ghost", text)
        publish(source, msg)

    # This run's broker, wrapped (trusted side): an instance attribute shadows the method.
    broker.publish = tapped  # type: ignore[method-assign]


ANSWERS = (
    ("InventoryReserved", "InventoryFailed", "Inventory"),
    ("PaymentSucceeded", "PaymentFailed", "Payment"),
)


def _answers(world: World) -> list[str]:
    """Inventory and Payment each answer an order one way: never both yes and no."""
    said: dict[str, set[str]] = {}
    for m in world.broker.published:
        data = m.get("data")
        if isinstance(data, dict) and isinstance(data.get("order_id"), str):
            said.setdefault(data["order_id"], set()).add(m["type"])
    return [
        f"{who} announced both {yes} and {no} for {oid}"
        for oid, types in sorted(said.items())
        for yes, no, who in ANSWERS
        if yes in types and no in types
    ]


def _refusals(world: World, facts: dict[str, Any]) -> list[str]:
    orders = shop(world)["orders"]
    refused: dict[str, set[Any]] = {}
    for m in world.broker.published:
        data = m.get("data")
        if m["type"] in ("InventoryFailed", "PaymentFailed") and isinstance(data, dict):
            if data.get("order_id") in orders:
                refused.setdefault(data["order_id"], set()).add(m["type"])
    out = []
    for oid, types in sorted(refused.items()):
        o = orders[oid]
        if oid in world.notes["seen_cancelled"]:
            continue  # a step refused for an order that was already cancelled: a tombstone at work
        if "InventoryFailed" in types and not _short(world.notes["seen_stock"].get(oid), o["qty"]):
            out.append(
                f"Inventory refused {oid} ({o['qty']} x {o['sku']}) although it saw "
                f"{_seen(world.notes['seen_stock'].get(oid))} available"
            )
        if "PaymentFailed" in types and not _short(
            world.notes["seen_balance"].get(oid), o["amount"]
        ):
            out.append(
                f"Payment refused {oid} ({o['amount']} from {o['customer']}) although it saw a balance "
                f"of {_seen(world.notes['seen_balance'].get(oid))}"
            )
    for oid, o in sorted(facts["orders"].items()):
        if (
            o["status"] == "CANCELLED"
            and oid not in refused
            and oid not in world.notes["timed_out"]
        ):
            out.append(
                f"{oid} is CANCELLED but neither Inventory nor Payment refused it, and it had not "
                f"timed out"
            )
    return out


def _stuck(world: World) -> list[str]:
    """Every step answers well before the timeout unless late_answer held one of the order's messages
    back: an order the timeout had to cancel otherwise was stuck, and would have stayed PENDING."""
    held_back = _held_back(world)
    return [
        f"{oid} was stuck: its timeout had to cancel it although none of its messages was held "
        f"back (an event lost or skipped?)"
        for oid in sorted(world.notes["timed_out"])
        if oid not in held_back
    ]


def _held_back(world: World) -> set[Any]:
    """The orders one of whose messages the fault late_answer held back past the timeout."""
    ids = {f["site"].split(">")[0] for f in world.plan.fired if f["kind"] == "late_answer"}
    return {
        m["data"].get("order_id")
        for m in world.broker.published
        if m.get("id") in ids and isinstance(m.get("data"), dict)
    }


def _short(seen: list[Any] | None, need: int) -> bool:
    """Some delivery saw less than the order needed (or no number at all); never seen: not short."""
    return any(not isinstance(v, int) or v < need for v in seen or [])


def _seen(seen: list[Any] | None) -> str:
    return " then ".join(str(v) for v in dict.fromkeys(seen or [])) or "nothing"


SCENARIO = OrderSagaChoreography()
