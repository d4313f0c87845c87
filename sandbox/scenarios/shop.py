"""The shop shared by the order saga scenarios: orders, stock, customers' money.

Store layout (the learner's code and the trusted participants both use it):
  order.orders[order_id]            {"status": "PENDING" | "CONFIRMED" | "CANCELLED", ...}
  inventory.stock[sku]              {"available": int}
  inventory.reservations[any key]   {"order_id", "sku", "qty", "status": "RESERVED" | "RELEASED"}
  payment.accounts[customer]        {"balance": int}
  payment.payments[any key]         {"order_id", "amount", "status": "CAPTURED" | "REFUNDED"}

Data families (``draw_shop``): a schedule's seed picks one of ``DATA_SETS`` data sets (few, so the
answer cache still serves repeated requests), each drawn once, with three orders in these roles, in the
order the client sends them:

  P1  customer X, SKU s1, q1, m1   reserved (s1's stock is exactly 2 x q1) and paid
  P2  customer X, SKU s1, q1, m1   P1's twin (another order id, nothing else differs): reserved, taking
                                   exactly the last units, then declined because P1 took X's money,
                                   so its reservation is released while its twin's is kept
  P3  even data sets: customer X, SKU s2, a cheaper order that still fits (X's second capture);
      odd data sets: customer Y, SKU s1, refused out of stock (P1 and P2 took the last units)

X's balance is exactly what X's paid orders cost in data sets 0 and 1 (the last money fits exactly),
with 5 to m1 - 5 to spare in the others.
(in a calm run; delays, crashes and the ``out_of_stock`` / ``declined`` faults reshuffle who gets
what). Order ids, customer names, SKUs and correlation ids are random and unrelated to each other,
so code that keys a reservation by SKU, a payment by customer, a dedup record by the order's
content, or rebuilds a correlation id from the order id is caught. ``design_saga`` still uses the
two fixed ``ORDERS`` through ``setup_shop``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ..broker import DEFAULT_MAX_ATTEMPTS
from ..world import HORIZON

if TYPE_CHECKING:  # trusted helpers that set up and read a world
    from ..world import World
    from .base import Scenario

# An event type's ghost check: (world, event data) -> what is not committed yet, or None.
Announce = Callable[["World", dict[str, Any]], str | None]

ORDERS = {
    "o1": {"order_id": "o1", "customer": "alice", "sku": "sku-1", "qty": 2, "amount": 40},
    "o2": {"order_id": "o2", "customer": "bob", "sku": "sku-2", "qty": 1, "amount": 25},
}
STOCK = 5
BALANCE = 100
DATA_SETS = 4  # distinct data sets per grading; a schedule's seed picks one
SPACING = 5  # ms between two PlaceOrder commands
ORDERS_PER_RUN = 3  # the roles P1..P3 below
FIRST_NAMES = (
    "alice",
    "bob",
    "chen",
    "dana",
    "emeka",
    "farah",
    "goran",
    "hana",
    "ivan",
    "jun",
    "kofi",
    "lena",
    "mateo",
    "nadia",
    "omar",
    "priya",
)


def saga_constants(scenario: Scenario) -> dict[str, Any]:
    """Numbers the saga statements quote besides the scenario's own: the consistency window, when
    faults stop, and the dead-letter cap of a handler that keeps raising."""
    return {
        "WINDOW_S": HORIZON // 1000,
        "FAULTS_STOP_S": scenario.fault_horizon // 1000,
        "MAX_ATTEMPTS": DEFAULT_MAX_ATTEMPTS,
    }


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def data_rng(world: World, salt: str) -> random.Random:
    """Deterministic per seed; ``DATA_SETS`` different worlds per grading keep answer caches useful."""
    return random.Random(f"{salt}|{world.seed % DATA_SETS}")


def data_index(world: World) -> int:
    return world.seed % DATA_SETS


class Seeded(Protocol):
    """What ``draw_shop`` reads: a world, or anything with the seed of one."""

    seed: int


def draw_shop(world: Seeded) -> dict[str, Any]:
    """The orders of one data set, in the roles described in the module docstring (read-only: shared
    by every run that draws the same data set)."""
    index = world.seed % DATA_SETS
    if index not in _DRAWN:
        _DRAWN[index] = _draw_shop(
            random.Random(f"shop|{index}"), cheap=index % 2 == 0, exact=index // 2 % 2 == 0
        )
    return _DRAWN[index]


_DRAWN: dict[int, dict[str, Any]] = {}


def _draw_shop(rng: random.Random, cheap: bool, exact: bool) -> dict[str, Any]:
    x_name, y_name = rng.sample(FIRST_NAMES, 2)
    x, y = f"{x_name}-{_hex(rng, 3)}", f"{y_name}-{_hex(rng, 3)}"
    s1, s2 = (f"sku-{n}" for n in rng.sample(range(100, 1000), 2))
    q1, q3 = rng.randint(1, 3), rng.randint(1, 3)
    m1 = 5 * rng.randint(6, 18)
    m3 = 5 * rng.randint(1, 3) if cheap else 5 * rng.randint(2, 18)
    ids: set[str] = set()
    while len(ids) < ORDERS_PER_RUN:
        ids.add(f"ord-{_hex(rng, 6)}")
    roles = [(x, s1, q1, m1), (x, s1, q1, m1), (x, s2, q3, m3) if cheap else (y, s1, q3, m3)]
    orders: dict[str, dict[str, Any]] = {}
    for oid, (customer, sku, qty, amount) in zip(rng.sample(sorted(ids), ORDERS_PER_RUN), roles):
        orders[oid] = {
            "order_id": oid,
            "customer": customer,
            "sku": sku,
            "qty": qty,
            "amount": amount,
        }
    corr = {oid: f"c-{_hex(rng, 10)}" for oid in orders}
    stock = {s1: 2 * q1, **({s2: q3 + rng.randint(0, 2)} if cheap else {})}
    # X can pay P1 (and P3 when it is the cheap one) but never P2 as well: spare < m1 - m3.
    extra = m3 if cheap else 0
    spare = 0 if exact else 5 * rng.randint(1, max(1, (m1 - extra) // 5 - 1))
    balance = {x: m1 + extra + spare, **({} if cheap else {y: 2 * m3 + 5 * rng.randint(0, 20)})}
    return {"orders": orders, "corr": corr, "stock": stock, "balance": balance}


def setup_shop(
    world: World,
    orders: dict[str, dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stock and accounts for these orders (the fixed ``ORDERS``, or a ``draw_shop`` data set). The
    ``out_of_stock`` fault empties an order's SKU; ``declined`` leaves its customer almost nothing."""
    if data is None:
        orders = ORDERS if orders is None else orders
        data = {
            "orders": orders,
            "corr": {oid: f"corr-{oid}" for oid in orders},
            "stock": {o["sku"]: STOCK for o in orders.values()},
            "balance": {o["customer"]: BALANCE for o in orders.values()},
        }
    stock, balance = dict(data["stock"]), dict(data["balance"])
    for oid, o in data["orders"].items():
        if world.plan.fires("out_of_stock", f"inventory:{oid}", 0):
            stock[o["sku"]] = 0
        if world.plan.fires("declined", f"payment:{oid}", 0):
            balance[o["customer"]] = min(balance[o["customer"]], 10)
    world.stores["inventory"].table("stock").update(
        {sku: {"available": n} for sku, n in stock.items()}
    )
    world.stores["payment"].table("accounts").update(
        {c: {"balance": n} for c, n in balance.items()}
    )
    notes: dict[str, Any] = {**data, "initial_stock": stock, "initial_balance": balance}
    world.notes["shop"] = notes
    return notes


def shop(world: World) -> dict[str, Any]:
    """What ``setup_shop`` set up for this run (kept in ``world.notes["shop"]``)."""
    data: dict[str, Any] = world.notes["shop"]
    return data


def commands(world: World) -> list[tuple[str, dict[str, Any], str]]:
    data = shop(world)
    return [("PlaceOrder", dict(o), data["corr"][oid]) for oid, o in data["orders"].items()]


def shop_facts(
    world: World,
    orders: dict[str, dict[str, Any]] | None = None,
    order_service: str = "order",
    exact: bool = False,
) -> dict[str, Any]:
    """``exact``: a confirmed order must hold exactly its quantity and its amount (not twice)."""
    data = shop(world)
    orders = data["orders"] if orders is None else orders
    inv, pay = world.stores["inventory"], world.stores["payment"]
    # Keyed by the ids and SKUs the rows hold (whatever the learner's code wrote there).
    reserved: dict[Any, int] = {}
    held_units: dict[Any, int] = {}
    for r in inv.rows("reservations").values():
        if r.get("status") == "RESERVED":
            reserved[r.get("order_id")] = reserved.get(r.get("order_id"), 0) + _int(r.get("qty"))
            held_units[r.get("sku")] = held_units.get(r.get("sku"), 0) + _int(r.get("qty"))
    captured: dict[Any, int] = {}
    charges: dict[Any, int] = {}
    for p in pay.rows("payments").values():
        oid = p.get("order_id")
        charges[oid] = charges.get(oid, 0) + 1
        if p.get("status") == "CAPTURED":
            captured[oid] = captured.get(oid, 0) + _int(p.get("amount"))
    facts_orders: dict[str, dict[str, Any]] = {}
    for oid, o in orders.items():
        row = world.stores[order_service].get("orders", oid) or {}
        missing: list[str] = []
        held: list[str] = []
        if reserved.get(oid, 0) < o["qty"]:
            missing.append("its stock is not reserved")
        if captured.get(oid, 0) < o["amount"]:
            missing.append("its money was not captured")
        if exact and reserved.get(oid, 0) > o["qty"]:
            missing.append(
                f"it holds {reserved[oid]} units of {o['sku']} for an order of {o['qty']}"
            )
        if exact and captured.get(oid, 0) > o["amount"]:
            missing.append(f"{captured[oid]} was captured for an order of {o['amount']}")
        if reserved.get(oid):
            held.append(f"{reserved[oid]} unit(s) of {o['sku']} are still reserved")
        if captured.get(oid):
            held.append(f"{captured[oid]} of {o['customer']}'s money is still captured")
        facts_orders[oid] = {
            "status": row.get("status", "never created"),
            "missing": missing,
            "held": held,
        }
    conservation: list[tuple[str, int, int]] = []
    for sku, start in sorted(data["initial_stock"].items()):
        now = _int((inv.get("stock", sku) or {}).get("available"))
        conservation.append(
            (f"units of {sku} (available + reserved)", start, now + held_units.get(sku, 0))
        )
    for customer, start in sorted(data["initial_balance"].items()):
        now = _int((pay.get("accounts", customer) or {}).get("balance"))
        taken = sum(captured.get(oid, 0) for oid, o in orders.items() if o["customer"] == customer)
        conservation.append((f"{customer}'s money (balance + captured)", start, now + taken))
    return {
        "orders": facts_orders,
        "charges": {f"order {k}": v for k, v in charges.items()},
        "conservation": conservation,
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def lost_events(world: World, expectations: Iterable[tuple[str, str, str]]) -> list[str]:
    """``expectations``: (order_id, event type, why) that must have been published."""
    published = {
        (m["type"], m["data"].get("order_id"))
        for m in world.broker.published
        if isinstance(m.get("data"), dict)
    }
    return [
        f"{why} but {type} for {oid} was never published"
        for oid, type, why in expectations
        if (type, oid) not in published
    ]


def choreography_expectations(
    world: World, orders: dict[str, dict[str, Any]] | None = None
) -> list[tuple[str, str, str]]:
    orders = shop(world)["orders"] if orders is None else orders
    out: list[tuple[str, str, str]] = []
    inv, pay = world.stores["inventory"], world.stores["payment"]
    reserved = {r.get("order_id") for r in inv.rows("reservations").values()}
    paid = {p.get("order_id") for p in pay.rows("payments").values()}
    for oid in orders:
        if world.stores["order"].get("orders", oid):
            out.append((oid, "OrderCreated", f"order {oid} was committed"))
        if oid in reserved:
            out.append((oid, "InventoryReserved", f"stock was reserved for {oid}"))
        if oid in paid:
            out.append((oid, "PaymentSucceeded", f"payment was captured for {oid}"))
    return out


def tap_calls(
    world: World,
    caller: str,
    delay: tuple[int, int] = (200, 900),
    refusals: Collection[str] = (),
    slow_ops: Collection[str] = (),
) -> None:
    """Wrap the world's RPC for the learner's ``caller`` lane (trusted side, per run):

    * fault ``late_reply`` (on the operations in ``slow_ops``): a call is slow. The caller times out
      at once; the request reaches the server ``delay`` ms later and acts then (its reply goes nowhere);
    * answers the caller actually receives whose status is in ``refusals`` are noted in
      ``world.notes["refused"]`` (the ids of the orders or trips refused), so an invariant can tell
      a cancellation after a refusal from one after a timeout or a "busy"."""
    rpc = world.rpc
    call = rpc.call
    refused: set[str] = world.notes.setdefault("refused", set())

    def tapped(
        who: str,
        site: str,
        service: str,
        op: str,
        data: dict[str, Any],
        key: str | None = None,
        corr: str | None = None,
    ) -> dict[str, Any]:
        if who != caller:
            return call(who, site, service, op, data, key, corr)
        if op in slow_ops and world.plan.fires("late_reply", site, world.now):
            late = world.rng.randint(*delay)
            world.log(
                "timeout",
                who,
                f"{op} to {service} is slow: timed out; it will arrive in {late} ms",
                {"correlation_id": corr},
            )
            world.sched.after(late, call, who, site + "~late", service, op, data, key, corr)
            return {"status": "timeout"}
        answer = call(who, site, service, op, data, key, corr)
        status = (
            (answer.get("result") or {}).get("status") if answer.get("status") == "ok" else None
        )
        if status in refusals and isinstance(data, dict):
            refused.add(str(data.get("order_id", data.get("trip_id"))))
        return answer

    # This run's RPC, wrapped (trusted side): an instance attribute shadows the method.
    rpc.call = tapped  # type: ignore[method-assign,assignment]


def dead_letters(world: World) -> list[str]:
    return [
        f"{msg['type']} ({msg['id']}) to {sub}() was dead-lettered: {why}"
        for sub, msg, why in world.broker.dlq
    ]


def tap_publishes(world: World, announces: dict[str, Announce]) -> None:
    """Ghost events, checked as each message is published (trusted side): ``announces`` maps an event
    type to ``check(world, data) -> str | None``, what is not committed yet although the event says it
    is. A problem is noted under ``world.notes["ghost"]`` (read by ``no_ghost_event``)."""
    broker = world.broker
    publish = broker.publish

    def tapped(source: str, msg: dict[str, Any]) -> None:
        check = announces.get(msg.get("type"))  # type: ignore[arg-type]  # (a message type, or None)
        data = msg.get("data")
        if check is not None and isinstance(data, dict):
            problem = check(world, data)
            if problem:
                text = f"{msg['type']} ({msg.get('id')}) was published while {problem}"
                if text not in world.notes.get("ghost", ()):
                    world.note("ghost", text)
        publish(source, msg)

    # This run's broker, wrapped (trusted side): an instance attribute shadows the method.
    broker.publish = tapped  # type: ignore[method-assign]


def order_row(world: World, oid: object, service: str = "order") -> dict[str, Any] | None:
    return world.stores[service].get("orders", oid) if isinstance(oid, str) else None


def has_row(world: World, service: str, table: str, oid: object) -> bool:
    return any(r.get("order_id") == oid for r in world.stores[service].rows(table).values())


CHOREOGRAPHY_ANNOUNCES: dict[str, Announce] = {
    "OrderCreated": lambda w, d: (
        None if order_row(w, d.get("order_id")) else f"order {d.get('order_id')} was not saved"
    ),
    "InventoryReserved": lambda w, d: (
        None
        if has_row(w, "inventory", "reservations", d.get("order_id"))
        else f"no reservation of {d.get('order_id')} was committed"
    ),
    "PaymentSucceeded": lambda w, d: (
        None
        if has_row(w, "payment", "payments", d.get("order_id"))
        else f"no payment of {d.get('order_id')} was committed"
    ),
}


def status_announces(
    events: dict[str, str], table: str, key: str, service: str
) -> dict[str, Announce]:
    """``events``: event type -> the status the row must already have when it is published."""

    def check(status: str) -> Announce:
        def run(w: World, d: dict[str, Any]) -> str | None:
            wanted = d.get(key)
            row = w.stores[service].get(table, wanted) if isinstance(wanted, str) else None
            got = (row or {}).get("status", "not saved")
            return None if got == status else f"{d.get(key)} is {got}, not {status}"

        return run

    return {event: check(status) for event, status in events.items()}
