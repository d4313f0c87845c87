"""Travel booking by orchestration (worked example B): the learner writes ``book_trip``.

Data families: ``TRIPS_PER_RUN`` trips per run, from one of ``shop.DATA_SETS`` data sets (picked by the
schedule's seed): random trip ids, customer and correlation ids (never derived from the trip id); the
trips are twins (same customer, same fares, different ids); one partner (the hotel in even data sets,
the car in odd ones) has one place fewer than there are trips, so the trip that asks last is refused
there because the other took the last place, and must cancel what it booked before. In every data set
one partner is ``{"status": "busy"}`` for the first trip until ``BUSY_MIN_MS``..``BUSY_MAX_MS`` (transient:
nothing done, not stored under the key) against the final ``unavailable``. Faults: ``unavailable``
takes away a partner's availability for one trip; ``late_reply`` makes a call slow (the orchestrator
times out at once, the partner acts ``LATE_MIN_MS``..``LATE_MAX_MS`` later). ``cancelled_for_a_reason``
counts only the refusals the orchestrator actually received (``shop.tap_calls``). Lesson playgrounds
(fault plans in ``rules`` mode) use the classic two fixed trips, with room for everyone.
"""

from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario, send_commands
from ..shop import (
    FIRST_NAMES,
    _hex,
    data_index,
    dead_letters,
    saga_constants,
    status_announces,
    tap_calls,
    tap_publishes,
)

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World

LEGS = ("flight", "hotel", "car")
TRIPS = {
    "t1": {"trip_id": "t1", "customer": "alice", "fares": {"flight": 300, "hotel": 200, "car": 80}},
    "t2": {"trip_id": "t2", "customer": "bob", "fares": {"flight": 250, "hotel": 150, "car": 60}},
}
BALANCE = 1000


class TravelBooking(Scenario):
    name = "travel_booking"
    title = "Travel booking saga (orchestration)"
    summary = (
        "Book a flight, a hotel and a car for each trip (worked example B). If any leg fails, cancel "
        "the legs already booked and end the trip CANCELLED; if all succeed, end it CONFIRMED and emit "
        "BookingConfirmed. Partners run out of places or are busy for a moment, calls time out (some "
        "arrive late) and the orchestrator crashes."
    )
    lanes = ("client", "booking", "flight", "hotel", "car")
    functions = ("book_trip",)
    signatures = {"book_trip": "book_trip(command, ctx)"}
    invariants = (
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "conservation",
        "no_lost_event",
        "no_ghost_event",
        "correlation_ids_present",
        "cancelled_for_a_reason",
        "nothing_dead_lettered",
    )
    fault_kinds = ("crash", "duplicate", "request_lost", "reply_lost", "late_reply", "unavailable")
    rpc_ops = {(leg, op): f"provider_{op}" for leg in LEGS for op in ("book", "cancel")}
    expected = {
        "reference": "pass",
        "missing_compensation": "cancelled_is_clean",
        "non_idempotent_compensation": "conservation",
        "starter": "cancelled_is_clean",
        "key_by_customer": "confirmed_is_complete",
        "cancel_with_the_book_key": "cancelled_is_clean",
        "busy_means_unavailable": "cancelled_for_a_reason",
        "compensate_on_timeout": "cancelled_for_a_reason",
        "rebuilt_correlation_id": "correlation_ids_present",
    }
    TRIPS_PER_RUN = 2
    BALANCE = BALANCE
    BUSY_MIN_MS, BUSY_MAX_MS = 50, 350
    LATE_MIN_MS, LATE_MAX_MS = 200, 900

    def statement_constants(self) -> dict[str, int | float | str]:
        return {**super().statement_constants(), **saga_constants(self)}

    def setup(self, world: World) -> None:
        world.broker.subscribe("BookTrip", "booking", "book_trip")
        data = _classic() if world.plan.mode == "rules" else self._draw(data_index(world))
        world.notes["travel"] = data
        for leg in LEGS:
            store = world.stores[leg]
            store.table("capacity")["places"] = {"left": data["capacity"][leg]}
            accounts, full = store.table("accounts"), store.table("availability")
            for tid, trip in data["trips"].items():
                accounts[trip["customer"]] = {"balance": BALANCE}
                full[tid] = {"available": not world.plan.fires("unavailable", f"{leg}:{tid}", 0)}
        for (leg, tid), until in data["busy"].items():
            world.stores[leg].table("busy")[tid] = {"until": until}
        tap_calls(
            world,
            "booking",
            (self.LATE_MIN_MS, self.LATE_MAX_MS),
            refusals=("unavailable",),
            slow_ops=("book",),
        )
        tap_publishes(
            world,
            status_announces({"BookingConfirmed": "CONFIRMED"}, "trips", "trip_id", "booking"),
        )
        send_commands(
            world,
            "client",
            [("BookTrip", dict(t), data["corr"][tid]) for tid, t in data["trips"].items()],
        )

    @functools.cache  # noqa: B019 -- scenarios live as long as the process; DATA_SETS entries; read-only data
    def _draw(self, index: int) -> dict[str, Any]:
        rng = random.Random(f"travel|{index}")
        customer = f"{rng.choice(FIRST_NAMES)}-{_hex(rng, 3)}"
        drawn: set[str] = set()
        while len(drawn) < self.TRIPS_PER_RUN:
            drawn.add(f"trip-{_hex(rng, 6)}")
        ids = rng.sample(sorted(drawn), self.TRIPS_PER_RUN)
        fares = {
            "flight": 10 * rng.randint(10, 40),
            "hotel": 10 * rng.randint(5, 30),
            "car": 10 * rng.randint(3, 12),
        }
        trips = {tid: {"trip_id": tid, "customer": customer, "fares": dict(fares)} for tid in ids}
        scarce = ("hotel", "car")[index % 2]
        busy = {
            (rng.choice(LEGS), ids[0]): rng.randint(self.BUSY_MIN_MS, self.BUSY_MAX_MS)
        }  # the first trip
        return {
            "trips": trips,
            "corr": {tid: f"c-{_hex(rng, 10)}" for tid in ids},
            "capacity": {leg: len(ids) - (leg == scarce) for leg in LEGS},
            "busy": busy,
        }

    def facts(self, world: World) -> dict[str, Any]:
        data = world.notes["travel"]
        orders, conservation, expect, unjustified = {}, [], [], []
        for leg in LEGS:
            store = world.stores[leg]
            booked = [r for r in store.rows("bookings").values() if r.get("status") == "BOOKED"]
            left = _int((store.get("capacity", "places") or {}).get("left"))
            conservation.append(
                (f"places at the {leg} (left + booked)", data["capacity"][leg], left + len(booked))
            )
            for customer in sorted({t["customer"] for t in data["trips"].values()}):
                balance = _int((store.get("accounts", customer) or {}).get("balance"))
                paid = sum(
                    _int(r.get("fare"))
                    for r in booked
                    if data["trips"].get(r.get("trip_id"), {}).get("customer") == customer
                )
                conservation.append(
                    (
                        f"{customer}'s money at the {leg} (balance + booked fares)",
                        BALANCE,
                        balance + paid,
                    )
                )
        for tid in data["trips"]:
            count = {
                leg: sum(
                    1
                    for r in world.stores[leg].rows("bookings").values()
                    if r.get("trip_id") == tid and r.get("status") == "BOOKED"
                )
                for leg in LEGS
            }
            row = world.stores["booking"].get("trips", tid) or {}
            status = row.get("status", "never created")
            missing = [f"the {leg} is not booked" for leg in LEGS if not count[leg]]
            missing += [f"the {leg} is booked {n} times" for leg, n in count.items() if n > 1]
            orders[f"trip {tid}"] = {
                "status": status,
                "missing": missing,
                "held": [f"the {leg} is still booked" for leg in LEGS if count[leg]],
            }
            if status == "CONFIRMED":
                expect.append((tid, "BookingConfirmed", f"trip {tid} is CONFIRMED"))
            if status == "CANCELLED" and tid not in world.notes["refused"]:
                unjustified.append(
                    f"trip {tid} is CANCELLED but the orchestrator never got unavailable from a "
                    f"partner for it"
                )
        published = {
            (m["type"], m["data"].get("trip_id"))
            for m in world.broker.published
            if isinstance(m.get("data"), dict)
        }
        lost = [
            f"{why} but BookingConfirmed for it was never published"
            for tid, type, why in expect
            if (type, tid) not in published
        ]
        return {
            "orders": orders,
            "conservation": conservation,
            "no_lost_event": lost,
            "cancelled_for_a_reason": unjustified,
            "nothing_dead_lettered": dead_letters(world),
        }


def _classic() -> dict[str, Any]:
    return {
        "trips": TRIPS,
        "corr": {tid: f"corr-{tid}" for tid in TRIPS},
        "capacity": {leg: len(TRIPS) for leg in LEGS},
        "busy": {},
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


SCENARIO = TravelBooking()
