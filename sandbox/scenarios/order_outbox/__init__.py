"""Order outbox: the learner writes Order's ``place_order(command, ctx)``.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them), and every set holds every family below; only the details differ:

* **Unpredictable ids.** Order ids (``ord-<hex>``), amounts, quantities and correlation ids
  change every schedule.
* **Orders sharing SKUs and checkouts.** 3-5 orders over two SKUs, so at least two orders share
  one: an order table keyed by SKU overwrites or drops an order. The first two orders sent
  belong to one checkout and share a correlation id.
* **The client sends an order again.** In every schedule the client re-sends one or two
  PlaceOrder commands later (100-500 ms) as *new messages* (a new command id) with the same
  order: a dedup keyed on the command id announces that order twice; the order id is what is
  unique.
* Broker faults on top: duplicates (same command id), delays, crashes, relay crashes.
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


class OrderOutbox(Scenario):
    name = "order_outbox"
    title = "Order service with an outbox"
    summary = (
        "Write the Order service's PlaceOrder command handler. It must create the order and announce "
        "OrderCreated so that no event is ever lost (committed but never published) or invented "
        "(published but never committed). Commands arrive at least once, and clients re-send orders."
    )
    lanes = ("client", "order", "fulfilment")
    functions = ("place_order",)
    signatures = {"place_order": "place_order(command, ctx)"}
    invariants = (
        "no_lost_event",
        "no_ghost_event",
        "nothing_dead_lettered",
        "correlation_ids_present",
    )
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash")
    expected = {
        "reference": "pass",
        "publish_then_commit": "no_ghost_event",
        "commit_then_publish": "no_lost_event",
        "starter": "no_ghost_event",
        "inbox_by_command_id": "no_ghost_event",
        "keyed_by_sku": "no_lost_event",
        "uncaught_duplicate_key": "nothing_dead_lettered",
        "correlation_id_per_order": "correlation_ids_present",
    }
    DATA_WORLDS = 8  # data sets the schedules draw from; each has every family (see the docstring)
    SPACING_MS = 5
    RESEND_FROM_MS = 100
    RESEND_TO_MS = 500

    def data(self, world: World) -> dict[str, Any]:
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        skus = [f"sku-{_hex(rng, 4)}" for _ in range(2)]
        orders = [
            {
                "order_id": f"ord-{_hex(rng, 6)}",
                "sku": skus[i % 2] if i < 2 else rng.choice(skus),
                "qty": rng.randint(1, 4),
                "amount": rng.randint(5, 90),
            }
            for i in range(rng.randint(3, 5))
        ]
        rng.shuffle(orders)
        corr = [f"chk-{_hex(rng, 10)}" for _ in orders]
        corr[1] = corr[0]  # one checkout, two orders
        commands = [("PlaceOrder", o, c) for o, c in zip(orders, corr)]
        again = rng.sample(range(len(orders)), rng.randint(1, 2))
        resend = [(rng.randint(self.RESEND_FROM_MS, self.RESEND_TO_MS), i) for i in sorted(again)]
        return {"orders": orders, "commands": commands, "resend": resend}

    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        world.broker.subscribe("PlaceOrder", "order", "place_order")
        world.broker.subscribe("OrderCreated", "fulfilment", "on_order_created")
        sends = [(i * self.SPACING_MS, cmd) for i, cmd in enumerate(data["commands"])]
        sends += [(t, data["commands"][i]) for t, i in data["resend"]]
        for n, (t, (type, order, corr)) in enumerate(sends, 1):
            msg = {
                "id": f"cmd-{n}",
                "type": type,
                "data": dict(order),
                "correlation_id": corr,
                "source": "client",
            }
            world.sched.at(t, world.broker.publish, "client", msg)

    def observe(self, world: World, sub: Subscription, msg: dict[str, Any]) -> None:
        if msg["type"] == "OrderCreated" and sub.service == "fulfilment":
            oid = msg["data"].get("order_id")
            if not isinstance(oid, str) or world.stores["order"].get("orders", oid) is None:
                world.note(
                    "ghost",
                    f"fulfilment received OrderCreated for {oid} at t={world.now} "
                    f"but order {oid} was not committed",
                )

    def facts(self, world: World) -> dict[str, Any]:
        data = world.notes["data"][0]
        received: dict[str, set[Any]] = {}
        for mid, row in world.stores["fulfilment"].rows("received").items():
            received.setdefault(row["order_id"], set()).add(mid)
        lost, invented = [], []
        placed = [o["order_id"] for o in data["orders"]]
        saved = world.stores["order"].rows("orders")
        for oid in placed:
            if oid not in saved:
                lost.append(f"the client placed order {oid} but it was never saved in orders")
        for oid in sorted(set(saved) | set(placed)):
            if oid in saved and not received.get(oid):
                lost.append(f"order {oid} was committed but fulfilment never received OrderCreated")
        # The event carries the order: Fulfilment needs its SKU, quantity and amount, not just an id.
        placed_by_id = {o["order_id"]: o for o in data["orders"]}
        for mid, row in world.stores["fulfilment"].rows("received").items():
            order = placed_by_id.get(row.get("order_id"))
            got = row.get("data") or {}
            if order and any(got.get(k) != order[k] for k in ("sku", "qty", "amount")):
                lost.append(
                    f"fulfilment received OrderCreated for {order['order_id']} without the order as its "
                    f"data (got {sorted(got)}; the sku, qty and amount of the command belong in it)"
                )
                break
        for oid, ids in sorted(received.items()):
            if len(ids) > 1:
                invented.append(
                    f"fulfilment received {len(ids)} different OrderCreated events for {oid}"
                )
        return {
            "no_lost_event": lost,
            "no_ghost_event": invented,
            "nothing_dead_lettered": dead_letters(world),
        }


SCENARIO = OrderOutbox()
