"""Try-confirm/cancel with holds that expire: the learner writes the checkout that coordinates it.

The learner writes ``checkout(command, ctx)`` in Order (a PlaceOrder command, ``{order_id, customer,
amount, sku, qty}``). Inventory and Payment are trusted (``world.py``) and work in two phases:

* try: ``inventory.hold`` puts the units aside (``held`` or ``out_of_stock``), ``payment.authorize``
  holds the amount on the customer's card (``authorized`` or ``declined``);
* confirm: ``inventory.commit`` (``committed``) and ``payment.capture`` (``captured``) turn the hold
  into the real thing, or answer ``expired`` when the hold has already lapsed;
* cancel: ``inventory.release`` and ``payment.cancel`` undo whatever happened for the order (a hold,
  or a confirmed hold) and refuse a try or a confirm for it that arrives later (a tombstone).

A hold expires by itself ``STOCK_HOLD_MS`` (Inventory) or ``CARD_HOLD_MS`` (Payment) after it was
taken: it lapses and gives the units or the money back without anybody sending anything. So the
checkout must decide in time (keep trying at least ``PATIENCE_MS`` while it gets only timeouts, and
confirm before a hold lapses), treat an ``expired`` confirm as a real failure that cancels the rest,
cancel every try when it cancels (expiry is the backstop for the cancel that never comes, not a
substitute for sending it), and never capture before every try succeeded.

Data families (by the schedule's seed; ids, customers, SKUs and correlation ids random and unrelated):

* ``ORDERS_MIN`` to ``ORDERS_MAX`` orders, ``SPACING_MS`` apart, sharing customers and SKUs; money or
  stock can run out for the last order of a customer or a SKU (a refusal);
* Payment's outage from the start: short (ends ``SHORT_MIN_MS`` to ``SHORT_MAX_MS``: wait it out;
  the grading's own seed 0, with which every single fault is tried), mid (``MID_MIN_MS`` to
  ``MID_MAX_MS``: after the stock hold lapses, so a checkout that waits for it confirms too late),
  long (``LONG_MIN_MS`` to ``LONG_MAX_MS``) or none;
* fault ``coordinator_down``: Order goes down ``DOWN_MIN_MS`` to ``DOWN_MAX_MS`` after the start and
  comes back ``DOWN_MS`` later, after every hold it took has lapsed (a confirm then answers
  ``expired``, and that is not the checkout's fault); ``late_reply`` on a try: the call times out at
  once and the request reaches the participant ``LATE_MIN_MS`` to ``LATE_MAX_MS`` later;
  ``request_lost``, ``reply_lost`` and crashes (the command is redelivered) hit any call; ``declined``
  and ``out_of_stock`` refuse a customer's or a SKU's tries.

Lesson playgrounds (``rules`` mode) use two fixed orders, an outage of Payment of
``PLAYGROUND_OUTAGE_MS`` (a rule for ``outage``), participants whose holds never expire (a rule
``holds_never_expire``, read from the plan's rules: it is a setting, not a fault that fires) and a
checkout that crashes after its first try and stays down (rules ``crash`` and
``coordinator_down``: its orders then never resolve, and the world never settles).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ...world import HORIZON
from ..base import Scenario, send_commands
from ..shop import dead_letters, tap_calls

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World

PLAYGROUND_ORDERS = {
    "o1": {"order_id": "o1", "customer": "alice", "amount": 40, "sku": "sku-1", "qty": 2},
    "o2": {"order_id": "o2", "customer": "bob", "amount": 25, "sku": "sku-2", "qty": 1},
}
PARTICIPANTS = ("inventory", "payment")
TRIES = {"inventory": "hold", "payment": "authorize"}
CONFIRMS = {"inventory": "commit", "payment": "capture"}
# What the grader calls a participant's resource in its messages.
WHAT = {"inventory": "stock hold", "payment": "card authorization"}


class TccHolds(Scenario):
    name = "tcc_holds"
    title = "Try-confirm/cancel with holds that expire"
    summary = (
        "Checkout holds the units and authorizes the card (try), then commits and captures (confirm) "
        "or releases and cancels (cancel). Every hold lapses by itself after a fixed time: decide "
        "before it does, treat a confirm that comes too late as a failure to cancel, cancel every try "
        "when you give up, and capture nothing before every try succeeded."
    )
    lanes = ("client", "order", "inventory", "payment")
    functions = ("checkout",)
    signatures = {"checkout": "checkout(command, ctx)"}
    invariants = (
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "no_double_charge",
        "conservation",
        "cancelled_for_a_reason",
        "confirm_after_every_try",
        "holds_released",
        "decided_within_hold",
        "correlation_ids_present",
        "nothing_dead_lettered",
    )
    fault_kinds = (
        "crash",
        "request_lost",
        "reply_lost",
        "late_reply",
        "declined",
        "out_of_stock",
        "coordinator_down",
    )
    rpc_ops = {
        **{("inventory", op): f"inventory_{op}" for op in ("hold", "commit", "release")},
        **{("payment", op): f"payment_{op}" for op in ("authorize", "capture", "cancel")},
    }
    trace_kinds = {
        "hold": "prepare",
        "authorize": "prepare",
        "commit": "decide",
        "capture": "decide",
    }
    expected = {
        "reference": "pass",
        "starter": "holds_released",
        "capture_before_every_try": "confirm_after_every_try",
        "retries_expired_confirm": "orders_resolve",
        "deadline_longer_than_hold": "decided_within_hold",
        "no_idempotency_keys": "no_double_charge",
        "no_cancel_on_decline": "holds_released",
        "cancel_not_retried": "holds_released",
    }

    ORDERS_MIN, ORDERS_MAX = 2, 3
    SPACING_MS = 100
    AMOUNT_MIN, AMOUNT_MAX = 10, 60
    QTY_MIN, QTY_MAX = 1, 3
    STOCK_HOLD_MS = 4000  # a stock hold lapses this long after it was taken
    CARD_HOLD_MS = 6000  # a card authorization lapses this long after it was taken
    PATIENCE_MS = 1500  # timeouts this long after an order was placed: it may be cancelled
    SHORT_MIN_MS, SHORT_MAX_MS = 300, 1200
    MID_MIN_MS, MID_MAX_MS = 4500, 5800
    LONG_MIN_MS, LONG_MAX_MS = 8000, 9500
    LATE_MIN_MS, LATE_MAX_MS = 1500, 4500
    DOWN_MIN_MS, DOWN_MAX_MS = 150, 400
    DOWN_MS = 7000  # longer than every hold
    PLAYGROUND_OUTAGE_MS = 4500
    PLAYGROUND_DOWN_AT_MS = 50

    def statement_constants(self) -> dict[str, int | float | str]:
        return {
            **super().statement_constants(),
            "WINDOW_S": HORIZON // 1000,
            "FAULTS_STOP_MS": self.fault_horizon,
        }

    def draw(self, world: World) -> dict[str, Any]:
        """This schedule's data (the same seed gives the same world)."""
        rng = random.Random(f"{self.name}|{world.seed}")
        customers = rng.sample(("alice", "bob", "chen", "dana", "emeka", "farah"), 2)
        skus = [f"sku-{n}" for n in rng.sample(range(100, 1000), 2)]
        orders: dict[str, dict[str, Any]] = {}
        for _ in range(rng.randint(self.ORDERS_MIN, self.ORDERS_MAX)):
            oid = f"ord-{rng.getrandbits(24):06x}"
            orders[oid] = {
                "order_id": oid,
                "customer": rng.choice(customers),
                "amount": rng.randint(self.AMOUNT_MIN, self.AMOUNT_MAX),
                "sku": rng.choice(skus),
                "qty": rng.randint(self.QTY_MIN, self.QTY_MAX),
            }
        corr = {oid: f"c-{rng.getrandbits(40):010x}" for oid in orders}
        # Enough for every order of an owner but the last one: a refusal part-way through.
        balance = _enough(rng, orders, "customer", "amount")
        stock = _enough(rng, orders, "sku", "qty")
        end = (
            rng.randint(self.SHORT_MIN_MS, self.SHORT_MAX_MS),
            rng.randint(self.MID_MIN_MS, self.MID_MAX_MS),
            rng.randint(self.LONG_MIN_MS, self.LONG_MAX_MS),
            0,
        )[world.seed % 4]
        down_at = rng.randint(self.DOWN_MIN_MS, self.DOWN_MAX_MS)
        return {
            "orders": orders,
            "corr": corr,
            "balance": balance,
            "stock": stock,
            "outage_end": end,
            "down": (down_at, down_at + self.DOWN_MS),
        }

    def setup(self, world: World) -> None:
        if world.plan.mode == "rules":  # a lesson playground: two fixed orders
            orders = PLAYGROUND_ORDERS
            data: dict[str, Any] = {
                "orders": orders,
                "corr": {oid: f"corr-{oid}" for oid in orders},
                "balance": {"alice": 100, "bob": 100},
                "stock": {"sku-1": 5, "sku-2": 5},
                "outage_end": self.PLAYGROUND_OUTAGE_MS
                if world.plan.fires("outage", "payment:long", 0)
                else 0,
                "down": (self.PLAYGROUND_DOWN_AT_MS, 10 * HORIZON),  # and never comes back
            }
            expire = not any(r["kind"] == "holds_never_expire" for r in world.plan.rules)
        else:
            data = self.draw(world)
            expire = True
        for service, table, field, pools in (
            ("payment", "accounts", "balance", data["balance"]),
            ("inventory", "stock", "available", data["stock"]),
        ):
            rows = world.stores[service].table(table)
            for owner, size in pools.items():
                if world.plan.fires(
                    "declined" if service == "payment" else "out_of_stock", f"{service}:{owner}", 0
                ):
                    size = 0
                rows[owner] = {field: size, "initial": size}
            hold_ms = self.CARD_HOLD_MS if service == "payment" else self.STOCK_HOLD_MS
            world.stores[service].table("terms")["hold"] = {"ms": hold_ms if expire else None}
        end = data["outage_end"]
        if end:
            world.outages["payment"] = [(0, end)]
            world.log("blocked", "payment", f"payment is down until t={end}")
        if world.plan.fires("coordinator_down", "order", 0):
            start, back = data["down"]
            world.outages["order"] = [(start, back)]
            world.log("blocked", "order", f"the checkout goes down at t={start} until t={back}")
        world.notes["orders"] = data["orders"]
        world.broker.subscribe("PlaceOrder", "order", "checkout")
        tap_calls(
            world,
            "order",
            (self.LATE_MIN_MS, self.LATE_MAX_MS),
            refusals=("declined", "out_of_stock", "expired"),
            slow_ops=tuple(TRIES.values()),
        )
        _tap_timeouts(world)
        _tap_decisions(world)
        commands = [("PlaceOrder", dict(o), data["corr"][oid]) for oid, o in data["orders"].items()]
        send_commands(world, "client", commands, spacing=self.SPACING_MS)
        world.notes["placed"] = {oid: i * self.SPACING_MS for i, oid in enumerate(data["orders"])}

    # -- what is measured ---------------------------------------------------------------------
    def facts(self, world: World) -> dict[str, Any]:
        orders: dict[str, dict[str, Any]] = world.notes["orders"]
        holds = {
            service: [h for h in world.stores[service].rows("holds").values()]
            for service in PARTICIPANTS
        }
        out: dict[str, dict[str, Any]] = {}
        charges: dict[str, int] = {}
        unjustified: list[str] = []
        early: list[str] = []
        blocking: list[str] = []
        late: list[str] = []
        cancelled_at: dict[str, int] = world.notes["cancelled_at"]
        for oid, o in orders.items():
            mine = {s: [h for h in holds[s] if h.get("order_id") == oid] for s in PARTICIPANTS}
            row = world.stores["order"].get("orders", oid)
            status = (
                row.get("status", "never created") if isinstance(row, dict) else "never created"
            )
            captured = sum(h["size"] for h in mine["payment"] if h["status"] == "CAPTURED")
            committed = sum(h["size"] for h in mine["inventory"] if h["status"] == "COMMITTED")
            charges[f"order {oid}"] = sum(1 for h in mine["payment"] if h.get("confirmed_at"))
            missing = [] if captured >= o["amount"] else ["its money was not captured"]
            missing += [] if committed >= o["qty"] else ["its stock was not committed"]
            if captured > o["amount"]:
                missing.append(f"{captured} was captured for an order of {o['amount']}")
            if committed > o["qty"]:
                missing.append(f"{committed} units were committed for an order of {o['qty']}")
            held = [f"{captured} of {o['customer']}'s money is captured"] if captured else []
            held += [f"{committed} unit(s) of {o['sku']} are committed"] if committed else []
            for service in PARTICIPANTS:
                for h in mine[service]:
                    _log_pending_hold(world, service, oid, h)
                    if h["status"] == "HELD" and h["expires_at"] is None:
                        blocking.append(
                            f"the {WHAT[service]} for {oid} (taken at t={h['held_at']}) is still "
                            f"held at the end of the window and never expires: nobody will ever "
                            f"release it"
                        )
                    lapsed = h["status"] == "LAPSED" or (
                        h["status"] == "HELD" and h["expires_at"] is not None
                    )
                    gone = h.get("released_at", h["expires_at"])
                    if (
                        lapsed
                        and oid in cancelled_at
                        and gone > cancelled_at[oid]
                        and not _down_between(world, cancelled_at[oid], gone)
                    ):
                        blocking.append(
                            f"the {WHAT[service]} for {oid} was left to lapse at t={gone}, "
                            f"{gone - cancelled_at[oid]} ms after {oid} was cancelled: the checkout "
                            f"never cancelled it"
                        )
            out[oid] = {"status": status, "missing": missing, "held": held}
            if status == "CANCELLED" and not self._may_cancel(world, oid):
                unjustified.append(
                    f"{oid} was CANCELLED although no try was refused, no confirm came too late "
                    f"and the checkout {self._timeouts(world, oid)}"
                )
            early += self._confirmed_early(oid, mine)
            late += self._late_confirms(world, oid)
        conservation = []
        for service, table, field, what in (
            ("payment", "accounts", "balance", "money (balance + held + captured)"),
            ("inventory", "stock", "available", "units (available + held + committed)"),
        ):
            confirmed = "CAPTURED" if service == "payment" else "COMMITTED"
            for owner, pool in sorted(world.stores[service].rows(table).items()):
                kept = sum(
                    h["size"]
                    for h in holds[service]
                    if h.get("owner") == owner and h["status"] in ("HELD", confirmed)
                )
                conservation.append(
                    (f"{owner}'s {what}", pool.get("initial"), pool.get(field, 0) + kept)
                )
        return {
            "orders": out,
            "charges": charges,
            "conservation": conservation,
            "cancelled_for_a_reason": unjustified,
            "confirm_after_every_try": early,
            "holds_released": blocking,
            "decided_within_hold": late,
            "nothing_dead_lettered": dead_letters(world),
        }

    def _confirmed_early(self, oid: str, mine: dict[str, list[dict[str, Any]]]) -> list[str]:
        """A confirm that acted before every try of its order had succeeded."""
        out = []
        for service in PARTICIPANTS:
            times = [h["confirmed_at"] for h in mine[service] if h.get("confirmed_at") is not None]
            if not times:
                continue
            first = min(times)
            for other in PARTICIPANTS:
                tried = [h["held_at"] for h in mine[other]]
                if not tried or min(tried) > first:
                    when = "never succeeded" if not tried else f"succeeded only at t={min(tried)}"
                    out.append(
                        f"{oid}: {CONFIRMS[service]} at t={first}, but its {TRIES[other]} try "
                        f"{when}: nothing may be confirmed before every try succeeded"
                    )
        return out

    def _late_confirms(self, world: World, oid: str) -> list[str]:
        """A confirm that reached a participant after the hold had lapsed, while the checkout was up
        the whole time the hold lasted (so it could have decided in time)."""
        out = []
        for service in PARTICIPANTS:
            record = world.stores[service].get("expired", oid)
            if not record:
                continue
            if not _down_between(world, record["held_at"], record["expires_at"]):
                out.append(
                    f"{oid}: {CONFIRMS[service]} reached {service} at t={record['at']}, after the "
                    f"{WHAT[service]} taken at t={record['held_at']} had lapsed at "
                    f"t={record['expires_at']}; the checkout was up all that time and should have "
                    f"decided before the hold ran out"
                )
        return out

    def _may_cancel(self, world: World, oid: str) -> bool:
        """A try was refused or a confirm came too late (and the checkout was told), the checkout was
        down between placing and cancelling the order, or it was still getting timeouts for the
        order PATIENCE_MS after it was placed."""
        if oid in world.notes.get("refused", set()):
            return True
        if _down_between(world, world.notes["placed"][oid], world.notes["cancelled_at"][oid]):
            return True  # back from an outage, it may have missed its chance to confirm in time
        last = world.notes["timed_out_at"].get(oid)
        return last is not None and last >= world.notes["placed"][oid] + self.PATIENCE_MS

    def _timeouts(self, world: World, oid: str) -> str:
        last = world.notes["timed_out_at"].get(oid)
        if last is None:
            return "never got a timeout for it"
        return (
            f"got its last timeout for it {last - world.notes['placed'][oid]} ms after the order "
            f"was placed (a timeout is no reason to cancel before {self.PATIENCE_MS} ms)"
        )


def _log_pending_hold(world: World, service: str, oid: str, hold: dict[str, Any]) -> None:
    """Show in the trace what became of a hold nobody touched again: it lapsed by itself (expiry is
    lazy, so no step of the run shows it), or it is still held and never will lapse."""
    if hold["status"] != "HELD":
        return
    if hold["expires_at"] is None:
        world.log(
            "blocked", service, f"still holding the {WHAT[service]} for {oid}: it never expires"
        )
    else:
        world.log(
            "expired",
            service,
            f"the {WHAT[service]} for {oid} lapsed by itself at t={hold['expires_at']} "
            f"({hold['size']} {'of the money' if service == 'payment' else 'unit(s)'} back)",
        )


def _down_between(world: World, start: int, stop: int) -> bool:
    """Was the checkout (Order) down at some moment between ``start`` and ``stop``?"""
    return any(down < stop and start < up for down, up in world.outages.get("order", ()))


def _enough(
    rng: random.Random, orders: dict[str, dict[str, Any]], owner: str, size: str
) -> dict[str, int]:
    need: dict[str, list[int]] = {}
    for o in orders.values():
        need.setdefault(o[owner], []).append(o[size])
    return {k: sum(v[:-1]) + (v[-1] if rng.random() < 0.5 else 0) for k, v in need.items()}


def _tap_timeouts(world: World) -> None:
    """Note, per order, when the checkout last got a timeout for one of its calls (trusted side). A
    slow request that lands later is not the checkout's call and is not counted."""
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
        if who == "order" and isinstance(oid, str) and answer.get("status") == "timeout":
            last[oid] = world.now
        return answer

    # This run's RPC, wrapped (trusted side): an instance attribute shadows the method.
    rpc.call = tapped  # type: ignore[method-assign,assignment]


def _tap_decisions(world: World) -> None:
    """Note when each order first became CANCELLED in Order's store (trusted side): from then on a
    hold of that order must be cancelled, not left to lapse."""
    store = world.stores["order"]
    commit = store.commit
    first: dict[str, int] = world.notes.setdefault("cancelled_at", {})

    def tapped(
        writes: list[Any], outbox: list[dict[str, Any]]
    ) -> tuple[str | None, list[dict[str, Any]]]:
        result = commit(writes, outbox)
        for oid, row in store.rows("orders").items():
            if oid not in first and isinstance(row, dict) and row.get("status") == "CANCELLED":
                first[oid] = world.now
        return result

    # This run's store, wrapped (trusted side): an instance attribute shadows the method.
    store.commit = tapped  # type: ignore[method-assign]


SCENARIO = TccHolds()
