"""Saga isolation: order sagas that run at the same time share the stock of a product.

The learner writes Inventory's three operations, ``reserve``, ``confirm`` and ``release`` (RPC
operations, ``(request, ctx)``; ``request.data = {order_id, sku, qty}``). The Order service's sagas
are trusted and run here: for each order, reserve its units; then the payment is decided
``PAY_MS`` later; a paid order is confirmed (its hold becomes a sale), a declined one is compensated
with ``release`` (its units go back on sale). An order refused ``out_of_stock`` is cancelled at once.
A goods-receipt job (trusted, the ``warehouse`` lane) adds delivered units to the same rows while
sagas run, with an atomic increment (``available = available + n, version = version + 1``).

Store contract in Inventory: ``stock[sku] {available, version}`` (what can still be promised) and
``holds[order_id] {sku, qty, status: RESERVED | SOLD | RELEASED}``.

Concurrency, the point of the scenario: Inventory takes ``WORK_MS`` to handle a request. The learner's
function reads the store as it was when the request arrived, and its writes are committed when it
finishes, against the store as it is then. Two requests that arrive less than ``WORK_MS`` apart
overlap: both read the same row, and a plain update from the later one replaces what the earlier one
wrote (the store keeps the last write). Inventory's database has a conditional update: a transaction
that writes a row's ``version`` commits only if it writes the stored version plus one; otherwise the
whole transaction is refused (``UPDATE ... WHERE version = v`` matched no row), the request fails,
and the Order service sends it again ``RETRY_MS`` later (doubling up to ``RETRY_MAX_MS``), with the
same idempotency key.

Faults: ``crash`` (Inventory dies part-way through a request: the Order service retries it),
``reply_lost`` (Inventory acted, the answer is lost: retried), ``concurrent`` (a second copy of a
request arrives at the same time as the first and reads the same store), ``declined`` (a payment is
declined, so the saga compensates).

Data families (a schedule's seed picks one of ``DATA_SETS`` sets; ids random and unrelated):

* one or two products with ``STOCK_MIN`` to ``STOCK_MAX`` units, ``ORDERS_MIN`` to ``ORDERS_MAX``
  orders of 1 to ``QTY_MAX`` units, more than the stock in all: the last units are contended;
* orders in bursts: the second order of a burst arrives within ``WORK_MS`` of the first, for the same
  product, so their reserves overlap;
* the first order of the first burst is declined, and a delivery arrives between its reserve and its
  release (a compensation that puts back a value saved at reservation time loses it), another
  delivery lands while a reserve is being handled (a read-compute-set loses it);
* a later burst comes after the declined order's units are back on sale.

Lesson playgrounds (``rules`` mode) use ``PLAYGROUND_ORDERS`` and ``PLAYGROUND_STOCK`` with faults that
switch the story's parts on: ``declined`` (o1's payment fails), ``concurrent`` (o2 arrives while o1's
reserve is being handled, not ``PLAYGROUND_LATER_MS`` later) and ``delivery`` (goods arrive mid-saga).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ...store import Store
from ...world import HORIZON
from ..base import Scenario

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


class SagaIsolation(Scenario):
    name = "saga_isolation"
    title = "Sagas that share the last units"
    summary = (
        "Write Inventory's reserve, confirm and release for order sagas that run at the same time "
        "on the same stock, while deliveries arrive. Overlapping requests read the same row: no "
        "update may be lost, no unit sold twice, a pending reservation must keep others off its "
        "units until it is confirmed or released, and a compensation must give back what it took "
        "without undoing anyone else's change."
    )
    lanes = ("orders", "inventory", "warehouse")
    functions = ("reserve", "confirm", "release")
    signatures = {
        "reserve": "reserve(request, ctx)",
        "confirm": "confirm(request, ctx)",
        "release": "release(request, ctx)",
    }
    invariants = (
        "no_lost_update",
        "no_oversell",
        "conservation",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "cancelled_for_a_reason",
        "orders_resolve",
    )
    fault_kinds = ("crash", "reply_lost", "concurrent", "declined")
    expected = {
        "reference": "pass",
        "starter": "no_lost_update",
        "read_compute_set": "no_lost_update",
        "release_restores_saved_value": "no_lost_update",
        "stock_taken_at_payment": "no_oversell",
        "release_not_idempotent": "conservation",
        "reserve_retry_takes_again": "conservation",
        "release_keeps_the_units": "cancelled_for_a_reason",
        "confirm_forgets_the_sale": "confirmed_is_complete",
    }

    WORK_MS = 40  # Inventory reads when a request arrives and commits this much later
    PAY_MS = 200  # a reserved order's payment is decided this long after the reserve answered
    RETRY_MS = 100  # the Order service sends a failed request again after this, doubling
    RETRY_MAX_MS = 1600
    DATA_SETS = 8
    STOCK_MIN = 2  # units of a product at the start, at least
    SUPPLY_SHARE = 0.5  # stock and deliveries together cover about this share of the demand
    ORDERS_MIN, ORDERS_MAX = 5, 7
    QTY_MAX = 3
    DELIVERY_MIN, DELIVERY_MAX = 1, 3
    # The lesson's story: four lamps; alice wants three (her card will be declined), bob two, and
    # his order arrives while hers is being handled (or, without the "concurrent" rule, much later).
    PLAYGROUND_STOCK: dict[str, int] = {"lamp": 4}
    PLAYGROUND_ORDERS: tuple[dict[str, Any], ...] = (
        {"order_id": "o1", "customer": "alice", "sku": "lamp", "qty": 3, "at": 0},
        {"order_id": "o2", "customer": "bob", "sku": "lamp", "qty": 2, "at": 20},
    )
    PLAYGROUND_DELIVERY: dict[str, Any] = {"delivery_id": "d1", "sku": "lamp", "qty": 3, "at": 120}
    PLAYGROUND_LATER_MS = 500

    def statement_constants(self) -> dict[str, int | float | str]:
        return {
            **super().statement_constants(),
            "WINDOW_S": HORIZON // 1000,
            "FAULTS_STOP_MS": self.fault_horizon,
            "SUPPLY_PERCENT": round(self.SUPPLY_SHARE * 100),
        }

    # -- data ---------------------------------------------------------------------------------------
    def draw(self, world: World) -> dict[str, Any]:
        """This schedule's data set (the same seed gives the same world)."""
        index = world.seed % self.DATA_SETS
        rng = random.Random(f"{self.name}|{index}")
        skus = [f"sku-{rng.getrandbits(16):04x}" for _ in range(1 + index % 2)]
        orders: list[dict[str, Any]] = []
        t = 0
        n = rng.randint(self.ORDERS_MIN, self.ORDERS_MAX)
        while len(orders) < n:
            sku = skus[len(orders) % len(skus)] if len(orders) else skus[0]
            burst = [t] + ([t + rng.randint(0, self.WORK_MS - 5)] if len(orders) < n - 1 else [])
            for at in burst:
                orders.append(
                    {
                        "order_id": f"ord-{rng.getrandbits(24):06x}",
                        "sku": sku,
                        "qty": rng.randint(1, self.QTY_MAX),
                        "at": at,
                        "declined": rng.random() < 0.25,
                    }
                )
            # The first burst's declined order is back on sale before the third burst starts.
            t += rng.randint(2 * self.WORK_MS, self.PAY_MS) if len(orders) < 4 else 500
        first = orders[0]
        first["declined"] = True
        deliveries = [
            {  # between the first order's reserve and its release
                "delivery_id": f"dlv-{rng.getrandbits(16):04x}",
                "sku": first["sku"],
                "qty": rng.randint(self.DELIVERY_MIN, self.DELIVERY_MAX),
                "at": first["at"] + self.WORK_MS + rng.randint(20, self.PAY_MS - 20),
            }
        ]
        target = rng.choice(orders[1:])
        deliveries.append(  # while a reserve is being handled
            {
                "delivery_id": f"dlv-{rng.getrandbits(16):04x}",
                "sku": target["sku"],
                "qty": rng.randint(1, self.DELIVERY_MAX),
                "at": target["at"] + rng.randint(1, self.WORK_MS - 1),
            }
        )
        # Stock plus deliveries cover about SUPPLY_SHARE of what the orders ask for: the last units
        # are contended, and some orders are refused.
        stock = {}
        for sku in skus:
            demand = sum(o["qty"] for o in orders if o["sku"] == sku)
            delivered = sum(d["qty"] for d in deliveries if d["sku"] == sku)
            stock[sku] = max(self.STOCK_MIN, round(demand * self.SUPPLY_SHARE) - delivered)
        corr = {o["order_id"]: f"c-{rng.getrandbits(40):010x}" for o in orders}
        return {"stock": stock, "orders": orders, "deliveries": deliveries, "corr": corr}

    def playground_data(self, world: World) -> dict[str, Any]:
        later = not world.plan.fires("concurrent", "playground:o2", 0)
        orders = [
            {
                **o,
                "at": o["at"]
                + (self.PLAYGROUND_LATER_MS if later and o["order_id"] == "o2" else 0),
                "declined": o["order_id"] == "o1"
                and world.plan.fires("declined", "playground:o1", 0),
            }
            for o in self.PLAYGROUND_ORDERS
        ]
        deliveries = (
            [dict(self.PLAYGROUND_DELIVERY)]
            if world.plan.fires("delivery", "playground:d1", 0)
            else []
        )
        return {
            "stock": dict(self.PLAYGROUND_STOCK),
            "orders": orders,
            "deliveries": deliveries,
            "corr": {o["order_id"]: f"corr-{o['order_id']}" for o in orders},
        }

    # -- the run ------------------------------------------------------------------------------------
    def setup(self, world: World) -> None:
        data = self.playground_data(world) if world.plan.mode == "rules" else self.draw(world)
        store = world.stores["inventory"]
        for sku, units in data["stock"].items():
            store.table("stock")[sku] = {"available": units, "version": 1}
        _check_versions(world, store)
        notes = world.notes
        notes["data"] = data
        notes["orders"] = {o["order_id"]: dict(o, status="PENDING") for o in data["orders"]}
        notes["received"] = dict(data["stock"])  # units that have arrived, per product
        notes["taken"] = {}  # order id -> its units are out of `available` (the ledger says)
        notes["promised"] = set()  # orders told "reserved" whose units were not given back
        notes["released"] = set()
        for problem in ("lost_update", "oversell", "twice", "unjustified"):
            notes[problem] = []
        for o in data["orders"]:
            world.sched.at(o["at"], self._send, world, "reserve", o["order_id"], 1)
        for d in data["deliveries"]:
            world.sched.at(d["at"], self._deliver_goods, world, d)

    def _payload(self, world: World, oid: str) -> dict[str, Any]:
        o = world.notes["orders"][oid]
        return {"order_id": oid, "sku": o["sku"], "qty": o["qty"]}

    def _send(self, world: World, op: str, oid: str, attempt: int) -> None:
        """The Order service's saga calls Inventory: the request arrives now and Inventory reads the
        store now; it commits and answers WORK_MS later."""
        corr = world.notes["data"]["corr"][oid]
        tag = {"correlation_id": corr}
        data = self._payload(world, oid)
        key = f"{op}-{oid}"
        world.log(
            "compensate" if op == "release" else "call",
            "orders",
            f"{op}({oid}, {data['qty']} x {data['sku']}) key={key}",
            tag,
            to="inventory",
        )
        site = f"orders>inventory.{op}:{oid}#{attempt}"
        view = world.stores["inventory"].snapshot()
        free = self._free(world, data["sku"])
        twin = world.plan.fires("concurrent", site, world.now)
        world.sched.after(self.WORK_MS, self._finish, world, op, oid, attempt, view, free, twin)

    def _finish(
        self,
        world: World,
        op: str,
        oid: str,
        attempt: int,
        view: dict[str, Any],
        free_then: int,
        twin: bool,
    ) -> None:
        notes = world.notes
        corr = notes["data"]["corr"][oid]
        tag = {"correlation_id": corr}
        data = self._payload(world, oid)
        site = f"orders>inventory.{op}:{oid}#{attempt}"
        request = {
            "op": op,
            "data": data,
            "idempotency_key": f"{op}-{oid}",
            "correlation_id": corr,
            "caller": "orders",
        }
        resp = self._invoke(world, op, oid, site, request, view)
        if twin:
            copy = self._invoke(world, op, oid, site + "+twin", request, view)
            refused = copy["conflict"] or copy["crashed"]
            world.log(
                "conflict" if refused else "duplicate",
                "inventory",
                f"a concurrent copy of {op}({oid}) "
                + ("was refused by the store" if refused else "was processed too"),
                tag,
            )
        answer = resp["value"] if isinstance(resp["value"], dict) else {"value": resp["value"]}
        failed = resp["crashed"] or resp["conflict"] or not resp["ok"]
        status = answer.get("status")
        if not failed and op == "reserve" and status not in ("reserved", "out_of_stock"):
            world.log("error", "inventory", f"reserve answered {answer!r}", tag)
            failed = True
        if not failed and op == "reserve":
            self._answered_reserve(world, oid, str(status), free_then)
        if not failed and op == "release":
            notes["released"].add(oid)
            notes["promised"].discard(oid)
        if failed or world.plan.fires("reply_lost", site, world.now):
            why = "failed" if failed else "answered, but the reply was lost"
            wait = min(self.RETRY_MS * 2 ** (attempt - 1), self.RETRY_MAX_MS)
            world.log("timeout", "orders", f"{op}({oid}) {why}: retry in {wait} ms", tag)
            world.sched.after(wait, self._send, world, op, oid, attempt + 1)
            return
        world.log("reply", "inventory", f"{op}({oid}): {_short(answer)}", tag, to="orders")
        order = notes["orders"][oid]
        if op == "reserve" and status == "reserved":
            world.sched.after(self.PAY_MS, self._payment_decided, world, oid)
        elif op == "reserve":
            order["status"] = "CANCELLED"
            order["refused"] = True
            world.log("commit", "orders", f"{oid} CANCELLED: out of stock", tag)
        else:
            order["status"] = "CONFIRMED" if op == "confirm" else "CANCELLED"
            world.log("commit", "orders", f"{oid} {order['status']}", tag)

    def _invoke(
        self,
        world: World,
        op: str,
        oid: str,
        site: str,
        request: dict[str, Any],
        view: dict[str, Any],
    ) -> dict[str, Any]:
        world.notes["invoking"] = (op, oid, view)
        try:
            return world.invoke("inventory", op, site, request=request, snapshot=view)
        finally:
            world.notes["invoking"] = None

    def _answered_reserve(self, world: World, oid: str, status: str, free_then: int) -> None:
        """Check a reserve's answer against what was really free (the trusted ledger)."""
        notes = world.notes
        o = notes["orders"][oid]
        sku, qty = o["sku"], o["qty"]
        if status == "reserved":
            notes["promised"].add(oid)
            held = self._held(world, sku)
            if held > notes["received"][sku]:
                notes["oversell"].append(
                    f"{oid} was told 'reserved' for {qty} x {sku} at t={world.now}: orders then held "
                    f"{held} units of {sku}, but only {notes['received'][sku]} had arrived"
                )
            return
        free_now = self._free(world, sku)
        if free_then >= qty and free_now >= qty:
            notes["unjustified"].append(
                f"{oid} was refused 'out of stock' at t={world.now} for {qty} x {sku}, although "
                f"{min(free_then, free_now)} units were free both when its request arrived and when "
                f"it was answered"
            )

    def _held(self, world: World, sku: str) -> int:
        """Units of ``sku`` that orders hold by the trusted ledger (not by the learner's rows): told
        'reserved' or had units taken, and not released since."""
        notes = world.notes
        holders = (notes["promised"] | set(notes["taken"])) - notes["released"]
        return sum(notes["orders"][oid]["qty"] for oid in holders if _sku(world, oid) == sku)

    def _free(self, world: World, sku: str) -> int:
        received: int = world.notes["received"][sku]
        return received - self._held(world, sku)

    def _payment_decided(self, world: World, oid: str) -> None:
        order = world.notes["orders"][oid]
        declined = order["declined"] or world.plan.fires("declined", f"payment:{oid}", world.now)
        tag = {"correlation_id": world.notes["data"]["corr"][oid]}
        if declined:
            world.log("decide", "orders", f"payment for {oid} declined: compensate", tag)
        else:
            world.log("decide", "orders", f"payment for {oid} captured", tag)
        self._send(world, "release" if declined else "confirm", oid, 1)

    def _deliver_goods(self, world: World, d: dict[str, Any]) -> None:
        """The goods-receipt job: an atomic increment, not a read-compute-set."""
        store = world.stores["inventory"]
        row = store.get("stock", d["sku"]) or {"available": 0, "version": 0}
        world.log("call", "warehouse", f"{d['qty']} x {d['sku']} delivered", to="inventory")
        writes = [
            [
                "update",
                "stock",
                d["sku"],
                {"available": row["available"] + d["qty"], "version": row["version"] + 1},
            ]
        ]
        world.notes["invoking"] = ("deliver", d["delivery_id"], None)
        store.commit(writes, [])
        world.notes["invoking"] = None
        world.notes["received"][d["sku"]] += d["qty"]
        world.log(
            "commit",
            "inventory",
            f"stock/{d['sku']} available=available+{d['qty']}, version=version+1 (goods received)",
        )

    # -- what the run shows -------------------------------------------------------------------------
    def facts(self, world: World) -> dict[str, Any]:
        notes = world.notes
        store = world.stores["inventory"]
        holds = store.rows("holds")
        orders: dict[str, dict[str, Any]] = {}
        sold: dict[str, int] = {}
        for oid, o in notes["orders"].items():
            hold = holds.get(oid)
            state = hold.get("status") if isinstance(hold, dict) else None
            missing, held = [], []
            if o["status"] == "CONFIRMED":
                sold[o["sku"]] = sold.get(o["sku"], 0) + o["qty"]
                if state != "SOLD" or (hold or {}).get("qty") != o["qty"]:
                    missing.append(
                        f"its hold is {_hold(hold)}, not SOLD for its {o['qty']} unit(s): the "
                        f"warehouse ships SOLD holds only"
                    )
            elif state in ("RESERVED", "SOLD"):
                held.append(f"its hold is still {state}")
            if o["status"] == "CANCELLED" and o.get("refused") and oid in notes["taken"]:
                held.append(f"{o['qty']} x {o['sku']} were taken from the stock for it")
            elif o["status"] == "CANCELLED" and oid in notes["taken"]:
                held.append(f"its {o['qty']} x {o['sku']} were never given back")
            orders[oid] = {"status": o["status"], "missing": missing, "held": held}
        conservation: list[tuple[str, Any, Any]] = []
        for sku, received in sorted(notes["received"].items()):
            row = store.get("stock", sku)
            got = row.get("available") if isinstance(row, dict) else None
            conservation.append(
                (
                    f"{sku}: units available (received {received} - sold {sold.get(sku, 0)})",
                    received - sold.get(sku, 0),
                    got,
                )
            )
            if sold.get(sku, 0) > received:
                notes["oversell"].append(
                    f"{sold[sku]} x {sku} were sold (confirmed orders) but only {received} arrived"
                )
        conservation += notes["twice"]
        return {
            "orders": orders,
            "conservation": conservation,
            "no_lost_update": notes["lost_update"],
            "no_oversell": list(dict.fromkeys(notes["oversell"])),
            "cancelled_for_a_reason": notes["unjustified"],
        }


def _sku(world: World, oid: str) -> str:
    sku: str = world.notes["orders"][oid]["sku"]
    return sku


def _hold(hold: Any) -> str:
    if not isinstance(hold, dict):
        return "missing"
    return f"{hold.get('status')} for {hold.get('qty')} unit(s)"


def _short(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items())[:80]


def _check_versions(world: World, store: Store) -> None:
    """Inventory's database (trusted side, per run): the conditional update on ``version``, and the
    ledger of what each committed change did to ``stock[sku].available``.

    A write that sets ``version`` commits only if it sets the stored version plus one (a new row: 1).
    Every committed change of ``available`` is compared with what its operation may do: reserving
    (or confirming, for a design that takes stock at payment) takes the order's units once,
    releasing gives them back once, a delivery adds its units. A change by a different amount replaced
    a value instead of adding to it (a lost update); a change where none was due applied an
    operation twice."""
    commit = store.commit

    def checked(
        writes: list[Any], outbox: list[dict[str, Any]]
    ) -> tuple[str | None, list[dict[str, Any]]]:
        seen: dict[tuple[str, str], Any] = {}
        for op, table, key, row in writes:
            if op not in ("update", "put") or not isinstance(row, dict) or "version" not in row:
                continue
            current = seen.get((table, key), store.get(table, key))
            stored = current.get("version", 0) if isinstance(current, dict) else 0
            if not isinstance(stored, int) or row["version"] != stored + 1:
                return (
                    f"{table}/{key} changed since it was read: it is at version {stored}, and a "
                    f"write of version {row['version']!r} needs the version before it"
                ), []
            seen[(table, key)] = {**(current or {}), **row} if op == "update" else row
        before = {sku: _available(row) for sku, row in store.rows("stock").items()}
        # A release that writes the count must move it: one that writes the value it finds (a saved
        # value that happens to be the current one) gave nothing back either.
        written = {
            key
            for op, table, key, row in writes
            if table == "stock" and isinstance(row, dict) and "available" in row
        }
        releasing = (world.notes.get("invoking") or ("",))[0] == "release"
        problem, rows = commit(writes, outbox)
        if problem is None:
            after = {sku: _available(row) for sku, row in store.rows("stock").items()}
            for sku in sorted(set(before) | set(after)):
                if before.get(sku) != after.get(sku) or (releasing and sku in written):
                    _account(world, sku, before.get(sku), after.get(sku))
        return problem, rows

    # This run's store, wrapped (trusted side): an instance attribute shadows the method.
    store.commit = checked  # type: ignore[method-assign]


def _available(row: Any) -> int | None:
    value = row.get("available") if isinstance(row, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _account(world: World, sku: str, was: int | None, now: int | None) -> None:
    notes = world.notes
    invoking = notes.get("invoking")
    if invoking is None or invoking[0] == "deliver":
        return  # trusted setup or the goods-receipt job
    op, oid, view = invoking
    order = notes["orders"][oid]
    change = (now or 0) - (was or 0)
    taken = notes["taken"]
    if op in ("reserve", "confirm") and oid not in taken and not order.get("given_back"):
        due, what = -order["qty"], f"taking {oid}'s {order['qty']} units"
    elif op == "release" and oid in taken:
        due, what = order["qty"], f"giving back {oid}'s {order['qty']} units"
    else:
        due, what = 0, ""
    if change == due and sku == order["sku"]:
        if due < 0:
            taken[oid] = True
        elif due > 0:
            del taken[oid]
            order["given_back"] = True
            notes["promised"].discard(oid)
        return
    if due == 0 or sku != order["sku"]:
        notes["twice"].append(
            (
                f"the change {op}({oid}) made to {sku}'s available units at t={world.now} "
                f"({oid}'s units were already {'back' if order.get('given_back') else 'taken'})",
                0,
                change,
            )
        )
        return
    read = _available((view or {}).get("stock", {}).get(sku))
    source = (
        f"it read available={read} when the request arrived, before a concurrent change"
        if read is not None and read != was
        else "it set a value saved earlier instead of adding to the current one"
    )
    notes["lost_update"].append(
        f"{op}({oid}) at t={world.now} wrote {sku} available={now} over {was}, a change of "
        f"{change:+d} where {what} is {due:+d}: {source}, so {abs(change - due)} unit(s) of other "
        f"changes were undone"
    )
    if due < 0:
        taken[oid] = True  # it did take something: do not ask for it again
    else:
        taken.pop(oid, None)
        order["given_back"] = True
        notes["promised"].discard(oid)


SCENARIO = SagaIsolation()
