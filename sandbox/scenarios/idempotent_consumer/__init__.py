"""Idempotent consumer: the learner writes Order's ``on_payment_captured(event, ctx)``.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them), and every set holds every family below; only the details differ:

* **Unpredictable ids.** Order ids (``ord-<hex>``), payment ids (``pay-<hex>``), amounts and
  correlation ids change every schedule.
* **Checkouts with several orders.** 3-5 orders; at least one checkout holds two orders that
  share one correlation id, so a dedup keyed on the correlation id drops a paid order.
* **The same capture announced twice.** In every schedule Payment announces at least one
  capture a second time, later (50-400 ms), as a *new message* (a new ``event.id``) with the
  same ``payment_id``. A dedup keyed on ``event.id`` confirms that order twice; the business
  key (``payment_id``, or the order's status) is what makes a repeat recognisable.
* Broker faults on top: duplicates (same ``event.id``), delays, crashes, relay crashes.
"""

from __future__ import annotations

import marshal
import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario, commit_outbox
from ..shop import dead_letters

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


class IdempotentConsumer(Scenario):
    name = "idempotent_consumer"
    title = "Idempotent consumer"
    summary = (
        "Payment publishes PaymentCaptured events, at least once, and sometimes announces one capture "
        "twice under two message ids. Write the Order service's handler: it must confirm each order "
        "exactly once and emit OrderConfirmed through the outbox, however many times a capture arrives."
    )
    lanes = ("payment", "order", "shipping")
    functions = ("on_payment_captured",)
    signatures = {"on_payment_captured": "on_payment_captured(event, ctx)"}
    invariants = (
        "confirmed_once",
        "no_lost_event",
        "nothing_dead_lettered",
        "correlation_ids_present",
    )
    fault_kinds = ("crash", "duplicate", "delay", "relay_crash")
    expected = {
        "reference": "pass",
        "no_dedup": "confirmed_once",
        "dedup_after_effect": "confirmed_once",
        "publish_after_commit": "no_lost_event",
        "starter": "confirmed_once",
        "dedup_by_event_id": "confirmed_once",
        "dedup_by_correlation_id": "no_lost_event",
        "uncaught_duplicate_key": "nothing_dead_lettered",
        "no_correlation_id": "correlation_ids_present",
    }
    DATA_WORLDS = 8  # data sets the schedules draw from; each has every family (see the docstring)
    REANNOUNCE_FROM_MS = 50
    REANNOUNCE_TO_MS = 400

    def data(self, world: World) -> dict[str, Any]:
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        # A data set is a pure function of its index: drawn once, then a fresh copy per run.
        key = (self.name, index, self.REANNOUNCE_FROM_MS, self.REANNOUNCE_TO_MS)
        if key not in _DRAWN:
            _DRAWN[key] = marshal.dumps(self._draw(index))
        data: dict[str, Any] = marshal.loads(_DRAWN[key])
        return data

    def _draw(self, index: int) -> dict[str, Any]:
        rng = random.Random(f"{self.name}|{index}")
        orders: list[dict[str, Any]] = [
            {
                "order_id": f"ord-{_hex(rng, 6)}",
                "payment_id": f"pay-{_hex(rng, 8)}",
                "amount": rng.randint(5, 90),
            }
            for _ in range(rng.randint(3, 5))
        ]
        shared = rng.randrange(len(orders) - 1)  # orders[shared] and the next share a checkout
        corr: dict[str, str] = {}
        for i, o in enumerate(orders):
            corr[o["order_id"]] = (
                corr[orders[i - 1]["order_id"]] if i == shared + 1 else f"chk-{_hex(rng, 10)}"
            )
        again = rng.sample(range(len(orders)), rng.randint(1, 2))
        return {
            "orders": orders,
            "corr": corr,
            "reannounce": [
                (rng.randint(self.REANNOUNCE_FROM_MS, self.REANNOUNCE_TO_MS), orders[i]["order_id"])
                for i in sorted(again)
            ],
        }

    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        world.broker.subscribe("PaymentCaptured", "order", "on_payment_captured")
        world.broker.subscribe("OrderConfirmed", "shipping", "on_order_confirmed")
        orders = world.stores["order"].table("orders")
        for o in data["orders"]:
            orders[o["order_id"]] = {"status": "PENDING", "amount": o["amount"]}
        commit_outbox(
            world,
            "payment",
            [("PaymentCaptured", dict(o), data["corr"][o["order_id"]]) for o in data["orders"]],
        )
        by_id = {o["order_id"]: o for o in data["orders"]}
        for t, oid in data["reannounce"]:
            world.sched.at(t, self._reannounce, world, by_id[oid], data["corr"][oid])

    @staticmethod
    def _reannounce(world: World, order: dict[str, Any], corr: str) -> None:
        world.log(
            "publish",
            "payment",
            f"payment announces the capture of {order['order_id']} again "
            f"(a new message, same payment_id)",
            {"correlation_id": corr},
        )
        commit_outbox(world, "payment", [("PaymentCaptured", dict(order), corr)])

    def facts(self, world: World) -> dict[str, Any]:
        data = world.notes["data"][0]
        orders = world.stores["order"].rows("orders")
        shipped: dict[str, int] = {}
        for row in world.stores["shipping"].rows("shipments").values():
            shipped[row["order_id"]] = shipped.get(row["order_id"], 0) + 1
        once, lost = [], []
        for o in data["orders"]:
            oid = o["order_id"]
            n = shipped.get(oid, 0)
            if n > 1:
                once.append(
                    f"order {oid} was confirmed {n} times (shipping received {n} different "
                    f"OrderConfirmed events)"
                )
            status = (orders.get(oid) or {}).get("status")
            if status != "CONFIRMED":
                lost.append(f"order {oid} was paid but is {status}")
            elif n == 0:
                lost.append(
                    f"order {oid} is CONFIRMED but no OrderConfirmed event ever reached shipping"
                )
        return {
            "confirmed_once": once,
            "no_lost_event": lost,
            "nothing_dead_lettered": dead_letters(world),
        }


_DRAWN: dict[tuple[str, int, int, int], bytes] = {}  # (name, index, window) -> data set, marshalled
SCENARIO = IdempotentConsumer()
