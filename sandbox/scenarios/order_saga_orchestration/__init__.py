"""Order saga by orchestration: the learner writes the orchestrator, Inventory and Payment are trusted.

Data families: the shop's ``ORDERS_PER_RUN`` orders per run (see ``shop.py``: random order ids,
customers, SKUs and correlation ids; three orders of two customers reserving the last units of one SKU;
twins that differ only by order id, the second declined because the first took the money; a customer's
second capture or an order refused out of stock, half the data sets each), plus, in every data set, the
first order, which Inventory or Payment answers ``{"status": "busy"}`` until ``BUSY_MIN_MS``..``BUSY_MAX_MS``
(transient: nothing done, not stored under the key), against the final refusals ``out_of_stock`` and
``declined``. The ``late_reply`` fault makes a call slow: the orchestrator times out at once and the
request reaches the participant ``LATE_MIN_MS``..``LATE_MAX_MS`` later, after the orchestrator has
decided what to do about the timeout. ``cancelled_for_a_reason`` counts only refusals the orchestrator
actually received (``shop.tap_calls``), so a late refusal does not excuse a cancellation on timeout.
Lesson playgrounds (fault plans in ``rules`` mode) use the classic two fixed orders instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import shop as shop_module
from ..base import DirectOp, Scenario, send_commands
from ..shop import (
    ORDERS,
    SPACING,
    commands,
    data_rng,
    dead_letters,
    draw_shop,
    lost_events,
    saga_constants,
    setup_shop,
    shop,
    shop_facts,
    status_announces,
    tap_calls,
    tap_publishes,
)

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World

OPS: dict[tuple[str, str], str | DirectOp] = {
    ("inventory", "reserve"): "inventory_reserve",
    ("inventory", "release"): "inventory_release",
    ("payment", "capture"): "payment_capture",
    ("payment", "refund"): "payment_refund",
}


class OrderSagaOrchestration(Scenario):
    name = "order_saga_orchestration"
    title = "Order saga by orchestration"
    summary = (
        "The same order flow, driven by one orchestrator in the Order service that calls Inventory "
        "(reserve/release) and Payment (capture/refund) and keeps the saga's state. Calls time out, "
        "sometimes after the other side acted or before a slow request arrives; participants can be "
        "busy for a moment; the orchestrator crashes and its command is redelivered."
    )
    lanes = ("client", "order", "inventory", "payment")
    functions = ("handle_place_order",)
    signatures = {"handle_place_order": "handle_place_order(command, ctx)"}
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
        "nothing_dead_lettered",
    )
    fault_kinds = (
        "crash",
        "duplicate",
        "delay",
        "request_lost",
        "reply_lost",
        "late_reply",
        "out_of_stock",
        "declined",
    )
    rpc_ops = OPS
    expected = {
        "reference": "pass",
        "missing_compensation": "cancelled_is_clean",
        "no_idempotency_keys": "cancelled_is_clean",
        "timeout_means_failure": "cancelled_for_a_reason",
        "starter": "cancelled_is_clean",
        "key_by_customer": "confirmed_is_complete",
        "busy_means_refused": "cancelled_for_a_reason",
        "compensate_on_timeout": "cancelled_for_a_reason",
        "same_key_for_every_call": "cancelled_is_clean",
        "rebuilt_correlation_id": "correlation_ids_present",
    }
    ORDERS_PER_RUN = shop_module.ORDERS_PER_RUN
    BUSY_MIN_MS, BUSY_MAX_MS = 50, 350
    LATE_MIN_MS, LATE_MAX_MS = 200, 900

    def statement_constants(self) -> dict[str, int | float | str]:
        return {**super().statement_constants(), **saga_constants(self)}

    def setup(self, world: World) -> None:
        world.broker.subscribe("PlaceOrder", "order", "handle_place_order")
        if world.plan.mode == "rules":  # a lesson playground: the classic two orders
            setup_shop(world, ORDERS)
        else:
            setup_shop(world, data=draw_shop(world))
            rng = data_rng(world, "busy")
            oid = next(iter(shop(world)["orders"]))  # P1: it always gets to both services
            service = rng.choice(("inventory", "payment"))
            world.stores[service].table("busy")[oid] = {
                "until": rng.randint(self.BUSY_MIN_MS, self.BUSY_MAX_MS)
            }
        tap_calls(
            world,
            "order",
            (self.LATE_MIN_MS, self.LATE_MAX_MS),
            refusals=("out_of_stock", "declined"),
            slow_ops=("reserve", "capture"),
        )
        tap_publishes(
            world,
            status_announces(
                {"OrderConfirmed": "CONFIRMED", "OrderCancelled": "CANCELLED"},
                "orders",
                "order_id",
                "order",
            ),
        )
        send_commands(world, "client", commands(world), spacing=SPACING)

    def facts(self, world: World) -> dict[str, Any]:
        facts = shop_facts(world, exact=True)
        expect, unjustified = [], []
        refused = world.notes["refused"]
        for oid, o in facts["orders"].items():
            if o["status"] in ("CONFIRMED", "CANCELLED"):
                expect.append(
                    (oid, "Order" + o["status"].capitalize(), f"order {oid} is {o['status']}")
                )
            if o["status"] == "CANCELLED" and oid not in refused:
                unjustified.append(
                    f"{oid} is CANCELLED but the orchestrator never got out_of_stock from "
                    f"Inventory or declined from Payment for it"
                )
        facts["no_lost_event"] = lost_events(world, expect)
        facts["cancelled_for_a_reason"] = unjustified
        facts["nothing_dead_lettered"] = dead_letters(world)
        return facts


SCENARIO = OrderSagaOrchestration()
