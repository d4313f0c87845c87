"""Unknown outcomes: a checkout whose capture call times out, with a deadline to decide.

The learner writes ``checkout(command, ctx)`` in Order (a PlaceOrder command, ``{order_id, customer,
amount}``); Payment is trusted (``world.py``): ``capture`` (keyed), ``status``, ``refund`` (undoes a
capture that happened) and ``cancel`` (refunds a capture that happened and leaves a tombstone, so a
capture for that order that arrives later is refused).

A timeout leaves the outcome unknown. Every order must be CONFIRMED or CANCELLED within
``DECIDE_MS`` of being placed, so when Payment stays unreachable the checkout has to decide without
an answer; it may cancel an order that Payment did not decline only if it was still getting
timeouts for it (Payment down, or a fault) ``PATIENCE_MS`` after the order was placed (before that,
a timeout is no reason: the capture may have happened, or would work a moment later). Whatever it decides, a cancelled order
must end with nothing captured, even when a capture request reaches Payment after the decision.

Data families (by the schedule's seed; ids, customers and correlation ids random and unrelated):

* ``ORDERS_MIN`` to ``ORDERS_MAX`` orders, ``SPACING_MS`` apart, amounts ``AMOUNT_MIN`` to
  ``AMOUNT_MAX``, sharing customers; a customer's money can run out (the later order is declined);
* Payment's outage from the start: long (ends ``LONG_MIN_MS`` to ``LONG_MAX_MS``, past the deadline:
  the give-up path), mid (``MID_MIN_MS`` to ``MID_MAX_MS``: after the patience, around the give-up),
  short (``SHORT_MIN_MS`` to ``SHORT_MAX_MS``: wait it out) or none; the grading's own seed 0, with
  which every single fault is tried, has the long one;
* fault ``late_reply`` on a capture: the call times out at once and the request reaches Payment
  ``LATE_MIN_MS`` to ``LATE_MAX_MS`` later (lost if Payment is still down then), so a capture can
  land after the checkout gave up; ``reply_lost`` (Payment captured, the caller timed out),
  ``request_lost`` and crashes of the checkout (its command is redelivered) hit any call.

Lesson playgrounds (``rules`` mode) use two fixed orders, an outage of ``PLAYGROUND_OUTAGE_MS`` when a
rule for ``outage`` asks for it, and a slow capture that arrives ``PLAYGROUND_LATE_MS`` after it was
sent; their flags (``TOMBSTONE``, ``RETRY_CLOSE``) pick the design.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario, send_commands
from ..shop import dead_letters, tap_calls

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World

PLAYGROUND_ORDERS = {
    "o1": {"order_id": "o1", "customer": "alice", "amount": 40},
    "o2": {"order_id": "o2", "customer": "bob", "amount": 25},
}


class UnknownOutcome(Scenario):
    name = "unknown_outcome"
    title = "A payment whose outcome is unknown"
    summary = (
        "Checkout captures the order's amount at Payment, but the call can time out: the money may "
        "have been taken, may be taken later, or not at all. Decide every order in time, confirm only "
        "paid orders, and leave a cancelled order with nothing captured, even when a capture request "
        "reaches Payment after you gave up."
    )
    lanes = ("client", "order", "payment")
    functions = ("checkout",)
    signatures = {"checkout": "checkout(command, ctx)"}
    invariants = (
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "no_double_charge",
        "conservation",
        "cancelled_for_a_reason",
        "correlation_ids_present",
        "nothing_dead_lettered",
    )
    # No broker "duplicate": a duplicated RetryLater redelivery starts a second retry chain, and chains
    # multiply; a crash redelivers the command instead.
    fault_kinds = ("crash", "request_lost", "reply_lost", "late_reply", "declined")
    rpc_ops = {("payment", op): f"payment_{op}" for op in ("capture", "status", "refund", "cancel")}
    expected = {
        "reference": "pass",
        "starter": "cancelled_for_a_reason",
        "cancel_on_timeout": "cancelled_for_a_reason",
        "no_deadline": "orders_resolve",
        "refund_not_cancel": "cancelled_is_clean",
        "close_once": "cancelled_is_clean",
        "new_key_per_attempt": "cancelled_is_clean",
        "gives_up_too_soon": "cancelled_for_a_reason",
        "status_then_cancel": "cancelled_is_clean",
    }

    ORDERS_MIN, ORDERS_MAX = 2, 3
    SPACING_MS = 100
    AMOUNT_MIN, AMOUNT_MAX = 10, 60
    PATIENCE_MS = (
        2000  # Payment unreachable this long after an order was placed: it may be cancelled
    )
    DECIDE_MS = 5000  # every order CONFIRMED or CANCELLED this long after it was placed
    LONG_MIN_MS, LONG_MAX_MS = 5500, 7000
    MID_MIN_MS, MID_MAX_MS = 2500, 4500
    SHORT_MIN_MS, SHORT_MAX_MS = 300, 1500
    LATE_MIN_MS, LATE_MAX_MS = 1500, 4500
    PLAYGROUND_OUTAGE_MS = 4000
    PLAYGROUND_LATE_MS = 4500

    def statement_constants(self) -> dict[str, int | float | str]:
        from ...world import HORIZON

        return {
            **super().statement_constants(),
            "WINDOW_S": HORIZON // 1000,
            "FAULTS_STOP_MS": self.fault_horizon,
        }

    def draw(self, world: World) -> dict[str, Any]:
        """This schedule's data (the same seed gives the same world)."""
        rng = random.Random(f"{self.name}|{world.seed}")
        customers = rng.sample(("alice", "bob", "chen", "dana", "emeka", "farah"), 2)
        orders: dict[str, dict[str, Any]] = {}
        for _ in range(rng.randint(self.ORDERS_MIN, self.ORDERS_MAX)):
            oid = f"ord-{rng.getrandbits(24):06x}"
            amount = rng.randint(self.AMOUNT_MIN, self.AMOUNT_MAX)
            orders[oid] = {"order_id": oid, "customer": rng.choice(customers), "amount": amount}
        corr = {oid: f"c-{rng.getrandbits(40):010x}" for oid in orders}
        # Enough for every order of a customer but the last one: a decline part-way through.
        need: dict[str, list[int]] = {}
        for o in orders.values():
            need.setdefault(o["customer"], []).append(o["amount"])
        balance = {c: sum(a[:-1]) + (a[-1] if rng.random() < 0.5 else 0) for c, a in need.items()}
        family = world.seed % 4
        end = (
            rng.randint(self.LONG_MIN_MS, self.LONG_MAX_MS),
            rng.randint(self.MID_MIN_MS, self.MID_MAX_MS),
            rng.randint(self.SHORT_MIN_MS, self.SHORT_MAX_MS),
            0,
        )[family]
        return {"orders": orders, "corr": corr, "balance": balance, "outage_end": end}

    def setup(self, world: World) -> None:
        if world.plan.mode == "rules":  # a lesson playground: two fixed orders
            orders = PLAYGROUND_ORDERS
            data: dict[str, Any] = {
                "orders": orders,
                "corr": {oid: f"corr-{oid}" for oid in orders},
                "balance": {"alice": 100, "bob": 100},
                "outage_end": self.PLAYGROUND_OUTAGE_MS
                if world.plan.fires("outage", "payment:long", 0)
                else 0,
            }
            late = (self.PLAYGROUND_LATE_MS, self.PLAYGROUND_LATE_MS)
        else:
            data = self.draw(world)
            late = (self.LATE_MIN_MS, self.LATE_MAX_MS)
        accounts = world.stores["payment"].table("accounts")
        for customer, balance in data["balance"].items():
            if world.plan.fires("declined", f"payment:{customer}", 0):
                balance = 5
            accounts[customer] = {"balance": balance, "initial": balance}
        end = data["outage_end"]
        if end:
            world.outages["payment"] = [(0, end)]
            world.log("blocked", "payment", f"payment is down until t={end}")
        world.notes["outage_end"] = end
        world.notes["orders"] = data["orders"]
        world.broker.subscribe("PlaceOrder", "order", "checkout")
        tap_calls(world, "order", late, refusals=("declined",), slow_ops=("capture",))
        _tap_timeouts(world)
        commands = [("PlaceOrder", dict(o), data["corr"][oid]) for oid, o in data["orders"].items()]
        send_commands(world, "client", commands, spacing=self.SPACING_MS)
        placed = {oid: i * self.SPACING_MS for i, oid in enumerate(data["orders"])}
        world.notes["placed"] = placed
        for oid, at in placed.items():
            world.sched.at(at + self.DECIDE_MS, self._deadline, world, oid)

    def _deadline(self, world: World, oid: str) -> None:
        status = (world.stores["order"].get("orders", oid) or {}).get("status", "never created")
        if status not in ("CONFIRMED", "CANCELLED"):
            world.note(
                "late_orders",
                f"{oid} was still {status} {self.DECIDE_MS} ms after it was placed (every order must "
                f"be CONFIRMED or CANCELLED by then, with or without an answer from Payment)",
            )

    def facts(self, world: World) -> dict[str, Any]:
        pay = world.stores["payment"]
        orders: dict[str, dict[str, Any]] = world.notes["orders"]
        out: dict[str, dict[str, Any]] = {}
        charges: dict[str, int] = {}
        taken: dict[str, int] = {}
        unjustified = []
        for oid, o in orders.items():
            rows = [p for p in pay.rows("payments").values() if p.get("order_id") == oid]
            captured = sum(p["amount"] for p in rows if p.get("status") == "CAPTURED")
            charges[f"order {oid}"] = len(rows)
            taken[o["customer"]] = taken.get(o["customer"], 0) + captured
            row = world.stores["order"].get("orders", oid)
            status = (
                row.get("status", "never created") if isinstance(row, dict) else "never created"
            )
            missing = [] if captured >= o["amount"] else ["its money was not captured"]
            if captured > o["amount"]:
                missing.append(f"{captured} was captured for an order of {o['amount']}")
            held = [f"{captured} of {o['customer']}'s money is still captured"] if captured else []
            out[oid] = {"status": status, "missing": missing, "held": held}
            if status == "CANCELLED" and not self._may_cancel(world, oid):
                last = world.notes["timed_out_at"].get(oid)
                tried = (
                    "never got a timeout from Payment for it"
                    if last is None
                    else f"got its last timeout for it {last - world.notes['placed'][oid]} ms after "
                    f"the order was placed"
                )
                unjustified.append(
                    f"{oid} was CANCELLED although Payment did not decline it, and the checkout "
                    f"{tried} (a timeout is no reason to cancel before {self.PATIENCE_MS} ms)"
                )
        conservation = [
            (
                f"{customer}'s money (balance + captured)",
                account.get("initial"),
                account.get("balance", 0) + taken.get(customer, 0),
            )
            for customer, account in sorted(pay.rows("accounts").items())
        ]
        return {
            "orders": out,
            "charges": charges,
            "conservation": conservation,
            "cancelled_for_a_reason": unjustified,
            "orders_resolve": world.notes.get("late_orders", []),
            "nothing_dead_lettered": dead_letters(world),
        }

    def _may_cancel(self, world: World, oid: str) -> bool:
        """Payment declined it (and the checkout was told), or the checkout was still getting timeouts
        from Payment for it (down, or a fault) PATIENCE_MS after the order was placed."""
        if oid in world.notes.get("refused", set()):
            return True
        last = world.notes["timed_out_at"].get(oid)
        return last is not None and last >= world.notes["placed"][oid] + self.PATIENCE_MS


def _tap_timeouts(world: World) -> None:
    """Note, per order, when the checkout last got a timeout for a capture or a status query (trusted
    side). A slow request that lands later is not the checkout's call and is not counted."""
    rpc = world.rpc
    call = rpc.call
    last: dict[str, int] = world.notes.setdefault("timed_out_at", {})

    def tapped(
        who: str,
        site: str,
        service: str,
        op: str,
        data: dict[str, Any],
        key: str | None = None,
        corr: str | None = None,
    ) -> dict[str, Any]:
        answer = call(who, site, service, op, data, key, corr)
        oid = data.get("order_id") if isinstance(data, dict) else None
        if who == "order" and op in ("capture", "status") and isinstance(oid, str):
            if answer.get("status") == "timeout":
                last[oid] = world.now
        return answer

    # This run's RPC, wrapped (trusted side): an instance attribute shadows the method.
    rpc.call = tapped  # type: ignore[method-assign,assignment]


SCENARIO = UnknownOutcome()
