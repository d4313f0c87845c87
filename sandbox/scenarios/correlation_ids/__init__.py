"""Correlation ids: the learner writes Order's ``place_order(command, ctx)`` and Inventory's
``on_order_created(event, ctx)``.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them), and every set holds every family below; only the details differ:

* **Unpredictable correlation ids.** Each checkout's correlation id is random (``chk-<hex>``),
  unrelated to the order id (``ord-<hex>``): an id rebuilt from the order (``corr-<order_id>``)
  or invented (``ctx.new_id``) is wrong.
* **Checkouts with several orders.** 3 orders; at least one checkout holds two orders that
  share one correlation id, and the others have one each: an id taken from the wrong order, or a
  dedup keyed on the correlation id, is caught.
* **Orders sharing SKUs.** Two SKUs for all orders, so two orders reserve the same SKU: a dedup
  keyed on the SKU loses a reservation.
* **Lost requests and late replies** on the audit call (``request_lost``, ``reply_lost``: Audit
  recorded the step but the caller timed out): the handler fails, the event is redelivered, and
  the repeated call must carry the same correlation id.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario
from ..shop import dead_letters

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...broker import Subscription
    from ...world import World


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


class CorrelationIds(Scenario):
    name = "correlation_ids"
    title = "Correlation ids end to end"
    summary = (
        "Write the Order service's place_order and the Inventory service's on_order_created. Every "
        "event you emit and every call you make must carry the correlation id of the order it belongs "
        "to, copied from the message that caused it, so one order can be followed end to end."
    )
    lanes = ("client", "order", "inventory", "audit", "payment")
    functions = ("place_order", "on_order_created")
    signatures = {
        "place_order": "place_order(command, ctx)",
        "on_order_created": "on_order_created(event, ctx)",
    }
    invariants = (
        "correlation_ids_present",
        "no_lost_event",
        "no_ghost_event",
        "conservation",
        "nothing_dead_lettered",
    )
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash", "request_lost", "reply_lost")
    rpc_ops = {("audit", "record"): lambda world, data: {"recorded": True}}
    expected = {
        "reference": "pass",
        "missing_on_event": "correlation_ids_present",
        "new_correlation_id": "correlation_ids_present",
        "missing_on_call": "correlation_ids_present",
        "starter": "correlation_ids_present",
        "rebuilt_from_order_id": "correlation_ids_present",
        "inbox_by_sku": "no_lost_event",
        "order_saved_with_put": "conservation",
        "reserved_before_commit": "no_ghost_event",
        "uncaught_duplicate_key": "nothing_dead_lettered",
    }
    DATA_WORLDS = 8  # data sets the schedules draw from; each has every family (see the docstring)
    SPACING_MS = 5
    STOCK = 50

    def data(self, world: World) -> dict[str, Any]:
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        skus = [f"sku-{_hex(rng, 4)}" for _ in range(2)]
        n = 3
        orders = [
            {
                "order_id": f"ord-{_hex(rng, 6)}",
                "sku": skus[i % 2] if i < 2 else rng.choice(skus),
                "qty": rng.randint(1, 4),
            }
            for i in range(n)
        ]
        rng.shuffle(orders)
        shared = rng.randrange(n - 1)
        corr: list[str] = []
        for i in range(n):
            corr.append(corr[i - 1] if i == shared + 1 else f"chk-{_hex(rng, 10)}")
        return {"skus": skus, "commands": [("PlaceOrder", o, c) for o, c in zip(orders, corr)]}

    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        world.broker.subscribe("PlaceOrder", "order", "place_order")
        world.broker.subscribe("OrderCreated", "inventory", "on_order_created")
        world.broker.subscribe("InventoryReserved", "payment", "on_inventory_reserved")
        stock = world.stores["inventory"].table("stock")
        for sku in data["skus"]:
            stock[sku] = {"available": self.STOCK}
        for i, (type, order, corr) in enumerate(data["commands"], 1):
            msg = {
                "id": f"cmd-{i}",
                "type": type,
                "data": dict(order),
                "correlation_id": corr,
                "source": "client",
            }
            world.sched.at((i - 1) * self.SPACING_MS, world.broker.publish, "client", msg)

    def observe(self, world: World, sub: Subscription, msg: dict[str, Any]) -> None:
        # One order, one OrderCreated and one InventoryReserved: redeliveries keep their message id,
        # a second event for the same order (a repeat that emits again, a publish before a commit
        # that crashed) gets a new one.
        if msg["type"] in ("OrderCreated", "InventoryReserved") and isinstance(
            msg.get("data"), dict
        ):
            key = f"{msg['type']} {msg['data'].get('order_id')}"
            ids = world.notes.setdefault("announced", {}).setdefault(key, [])
            if msg["id"] not in ids:
                ids.append(msg["id"])

    def facts(self, world: World) -> dict[str, Any]:
        data = world.notes["data"][0]
        seen = {row.get("order_id") for row in world.stores["payment"].rows("received").values()}
        ghost = []
        for key, ids in sorted(world.notes.get("announced", {}).items()):
            type, _, oid = key.partition(" ")
            if len(ids) > 1:
                ghost.append(
                    f"{len(ids)} different {type} events announced order {oid} ({', '.join(ids)})"
                )
        stock = world.stores["inventory"].rows("stock")
        conservation = []
        for sku in data["skus"]:
            qty = sum(order["qty"] for _, order, _ in data["commands"] if order["sku"] == sku)
            got = (stock.get(sku) or {}).get("available")
            conservation.append(
                (
                    f"stock of {sku} available after reserving its orders once each",
                    self.STOCK - qty,
                    got,
                )
            )
        return {
            "no_lost_event": [
                f"InventoryReserved for {order['order_id']} never reached payment"
                for _, order, _ in data["commands"]
                if order["order_id"] not in seen
            ],
            "no_ghost_event": ghost,
            "conservation": conservation,
            "nothing_dead_lettered": dead_letters(world),
        }


SCENARIO = CorrelationIds()
