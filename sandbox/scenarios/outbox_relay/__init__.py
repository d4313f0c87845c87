"""Outbox relay: the learner writes the relay loop, ``relay_tick(tick, ctx)``.

The Order service (trusted) commits orders and their events to its ``outbox`` table; the
learner's relay moves those rows to the broker. Every ``POLL_MS`` ms, while some row is not
marked sent (or the Order service still has transactions to commit), each live relay instance
(``relay-1`` .. ``relay-RELAY_INSTANCES``) is called once. The instances of one round run *at the
same time*: they all read the same snapshot of the order database, and their effects are applied
one instance after the other, in an order the world's seeded generator picks per round. When two
of them commit conflicting writes (an insert of a key the other inserted first, an update or
delete of a row the other deleted), the second commit is refused and nothing that instance did
after it counts, as if the refused commit had raised. A plain ``update`` of the same row by both is
not a conflict: the later one wins.

Faults (decided here, never by the learner's code):

* ``crash``: a relay instance dies part-way through a tick, before any one of its effects (so
  between a publish and the mark that follows it, among others); it is restarted for the next
  round, with nothing but what it committed.
* ``outage``: a relay instance stops for good (its machine is gone) at a time the data set
  chooses, as long as another instance is still running.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator; every set holds every family below, only the details differ:

* **Orders with histories.** ``ORDERS_MIN``-``ORDERS_MAX`` orders, each with two or three events
  (OrderPlaced, then OrderPaid and OrderShipped or OrderRefunded, or OrderCancelled), ids and
  correlation ids that change every set. One order's transactions follow each other, so its rows
  get increasing keys; different orders interleave.
* **Insert order is not commit order.** A row's key (``000001``, ``000002``, ...) is taken when its
  transaction starts; the row becomes visible when it commits. One transaction in every set is
  slow: a row with a later key of another order commits, and is visible to at least one round,
  before it. A relay that remembers "the last key I published" skips the slow row for good.
* **A key that never commits.** One transaction in every set rolls back, so its key never shows
  up: a relay that waits for the gap to fill waits forever.
* **Events close together.** Some orders commit their next event within one poll interval of the
  previous one, so one round sees several rows of one order.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from ...store import Store
from ...world import HORIZON
from ..base import Scenario

if TYPE_CHECKING:
    from ...broker import Subscription
    from ...world import World

STORIES: tuple[tuple[str, ...], ...] = (
    ("OrderPlaced", "OrderPaid", "OrderShipped"),
    ("OrderPlaced", "OrderCancelled"),
    ("OrderPlaced", "OrderPaid", "OrderRefunded"),
)
STATUS = {
    "OrderPlaced": "PLACED",
    "OrderPaid": "PAID",
    "OrderShipped": "SHIPPED",
    "OrderCancelled": "CANCELLED",
    "OrderRefunded": "REFUNDED",
}
EVENT_TYPES = tuple(STATUS)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


class OutboxRelay(Scenario):
    name = "outbox_relay"
    title = "The outbox relay"
    summary = (
        "Write the relay that moves the Order service's outbox rows to the broker: read the unsent "
        "rows in order, publish each, mark it sent. Two relay instances poll the same outbox at the "
        "same time, either can crash between publishing a row and marking it, and one can stop for "
        "good: no event may be lost or altered, each order's events must arrive in order, and an "
        "event may be published twice only because a crash fell between its publish and its mark."
    )
    lanes = ("order", "relay-1", "relay-2", "shipping")
    functions = ("relay_tick",)
    signatures = {"relay_tick": "relay_tick(tick, ctx)"}
    invariants = (
        "no_lost_event",
        "no_ghost_event",
        "order_events_in_order",
        "duplicates_only_after_crash",
        "correlation_ids_present",
    )
    fault_kinds = ("crash", "outage")
    expected = {
        "reference": "pass",
        "starter": "duplicates_only_after_crash",
        "mark_before_publish": "no_lost_event",
        "claim_without_expiry": "no_lost_event",
        "skip_claimed_row": "order_events_in_order",
        "claim_by_update": "duplicates_only_after_crash",
        "mark_after_batch": "duplicates_only_after_crash",
        "high_water_mark": "no_lost_event",
        "static_partition": "no_lost_event",
        "current_state_payload": "no_ghost_event",
        "no_correlation_id": "correlation_ids_present",
    }
    RELAY_INSTANCES = 2
    POLL_MS = 100  # one round of ticks every POLL_MS while there is work
    POLL_UNTIL_MS = 20_000  # rounds stop here even if rows are still unsent
    STAGGER_MS = 40  # the instances of one round tick within this many ms of each other
    DUPLICATES_PER_CRASH = 1  # events a crash between a publish and its mark may repeat
    DATA_WORLDS = 8
    ORDERS_MIN = 3
    ORDERS_MAX = 4
    OUTAGE_FROM_MS = 200  # an instance that stops for good stops between these times
    OUTAGE_TO_MS = 2_500
    SLOW_TX_MIN_MS = 250  # how long the slow transaction of every data set stays open
    SLOW_TX_MAX_MS = 450

    @property
    def relays(self) -> tuple[str, ...]:
        return tuple(f"relay-{i + 1}" for i in range(self.RELAY_INSTANCES))

    def statement_constants(self) -> dict[str, Any]:
        out = super().statement_constants()
        out["CONSISTENCY_WINDOW_MS"] = HORIZON
        out["FAULT_WINDOW_MS"] = self.fault_horizon
        return out

    # -- the data set -------------------------------------------------------------------------------
    def data(self, world: World) -> dict[str, Any]:
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        while True:  # the first draw of this set's generator that has every family
            data = self._draw(rng)
            if data is not None:
                data["index"] = index
                return data

    def _draw(self, rng: random.Random) -> dict[str, Any] | None:
        orders: list[dict[str, Any]] = []
        for i in range(rng.randint(self.ORDERS_MIN, self.ORDERS_MAX)):
            story = STORIES[0] if i == 0 else rng.choice(STORIES)
            orders.append(
                {
                    "order_id": f"ord-{_hex(rng, 6)}",
                    "correlation_id": f"chk-{_hex(rng, 10)}",
                    "amount": rng.randint(5, 90),
                    "story": story,
                    "start": 0 if i == 0 else rng.randint(20, 700),
                }
            )
        # One transaction of the second order is slow; it is drawn before the timelines so that
        # the check below decides whether this draw has the families.
        slow = rng.randrange(len(orders[1]["story"]))
        txs: list[dict[str, Any]] = []
        for n, order in enumerate(orders):
            t = order["start"]
            for k, type in enumerate(order["story"]):
                duration = rng.randint(5, 40)
                if n == 1 and k == slow:
                    duration = rng.randint(self.SLOW_TX_MIN_MS, self.SLOW_TX_MAX_MS)
                gap = rng.choice((rng.randint(0, 60), rng.randint(80, 400)))
                txs.append(
                    {"order": order, "k": k, "type": type, "begin": t, "commit": t + duration}
                )
                t += duration + gap
        aborted = {"order": None, "begin": rng.randint(50, 900), "commit": None}
        txs.append(aborted)
        txs.sort(key=lambda tx: (tx["begin"], tx["order"]["order_id"] if tx["order"] else ""))
        for seq, tx in enumerate(txs, 1):
            tx["key"] = f"{seq:06d}"
        rows = [tx for tx in txs if tx["commit"] is not None]
        # Families: a later key of another order visible (for one round) well before an earlier one.
        inverted = any(
            a["key"] < b["key"]
            and a["order"] is not b["order"]
            and a["commit"] - b["commit"] >= self.POLL_MS + 50
            for a in rows
            for b in rows
        )
        close = any(
            a["order"] is b["order"]
            and b["k"] == a["k"] + 1
            and b["commit"] - a["commit"] < self.POLL_MS
            for a in rows
            for b in rows
        )
        gap = any(aborted["key"] < tx["key"] for tx in rows)  # a later key commits after it
        if not (inverted and close and gap):
            return None
        events = []
        for tx in rows:
            order = tx["order"]
            events.append(
                {
                    "key": tx["key"],
                    "t": tx["commit"],
                    "order_id": order["order_id"],
                    "k": tx["k"],
                    "type": tx["type"],
                    "correlation_id": order["correlation_id"],
                    "data": {
                        "event_id": f"evt-{_hex(rng, 8)}",
                        "order_id": order["order_id"],
                        "status": STATUS[tx["type"]],
                        "amount": order["amount"],
                    },
                }
            )
        outages = {
            relay: rng.randint(self.OUTAGE_FROM_MS, self.OUTAGE_TO_MS) for relay in self.relays
        }
        return {"events": events, "outages": outages}

    # -- the run ------------------------------------------------------------------------------------
    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        order = world.stores["order"]
        for relay in self.relays:
            world.stores[relay] = order  # every instance reads and writes the order database
        for type in EVENT_TYPES:
            world.broker.subscribe(type, "shipping", "on_order_event")
        for event in data["events"]:
            world.sched.at(event["t"], self._commit, world, event)
        # An instance stops for good only while another is still running.
        alive = list(self.relays)
        for relay in self.relays:
            at = data["outages"][relay]
            if len(alive) > 1 and world.plan.fires("outage", f"{relay}:stops", at):
                alive.remove(relay)
                world.outages[relay] = [(at, 10 * HORIZON)]
                world.sched.at(at, self._stopped, world, relay)
        world.notes["last_commit"] = [max(e["t"] for e in data["events"])]
        world.sched.at(self.POLL_MS, self._round, world)

    def _commit(self, world: World, event: dict[str, Any]) -> None:
        """The Order service commits one order change and its event row, in one transaction."""
        row = {
            "order_id": event["order_id"],
            "type": event["type"],
            "data": dict(event["data"]),
            "correlation_id": event["correlation_id"],
            "sent": False,
        }
        order = {"status": event["data"]["status"], "amount": event["data"]["amount"]}
        writes = [
            ["insert", "outbox", event["key"], row],
            ["put", "orders", event["order_id"], order],
        ]
        problem, _ = world.stores["order"].commit(writes, [])
        if problem:  # the relay wrote into the outbox under a key the Order service uses
            world.note("overwritten", f"outbox/{event['key']}: {problem}")
            return
        world.log(
            "commit",
            "order",
            f"insert outbox/{event['key']} {event['type']} {event['order_id']}",
            {"id": event["data"]["event_id"], "correlation_id": event["correlation_id"]},
        )

    def _stopped(self, world: World, relay: str) -> None:
        world.log("crash", relay, f"{relay} stops for good (its machine is gone)")

    @staticmethod
    def _unsent(world: World) -> list[str]:
        rows = world.stores["order"].rows("outbox")
        return [key for key, row in rows.items() if row.get("sent") is not True]

    def _round(self, world: World) -> None:
        if world.now > self.POLL_UNTIL_MS:
            return
        unsent = self._unsent(world)
        if not unsent and world.now >= world.notes["last_commit"][0]:
            return  # everything is out and nothing more will be committed
        world.sched.after(self.POLL_MS, self._round, world)
        if not unsent:
            return
        # The instances of a round tick within STAGGER_MS of each other, taking turns at going
        # first (relay-1 in the first round). The first reads the database as it is. Each later one
        # read it a moment earlier, while the others were busy: at the start of the round, or part
        # way through an earlier tick (just after one of its commits), as drawn for this round. A
        # mirror of the database replays each tick's commits to give those states. The draws
        # depend only on the data set and the round's time (so schedules share their calm start).
        index = world.notes["data"][0]["index"]
        rng = random.Random(f"{self.name}|{index}|{world.now}")
        turn = (world.now // self.POLL_MS - 1) % len(self.relays)
        order = list(self.relays[turn:] + self.relays[:turn])
        offsets = sorted(rng.randint(1, self.STAGGER_MS) for _ in order[1:])
        picks = [rng.random() for _ in order[1:]]
        mirror = Store("order")
        mirror.tables = world.stores["order"].snapshot()
        views = [mirror.snapshot()]
        self._tick_reading(world, order[0], 0.0, mirror, views)
        for relay, offset, pick in zip(order[1:], offsets, picks):
            world.sched.after(offset, self._tick_reading, world, relay, pick, mirror, views)

    def _tick_reading(
        self, world: World, relay: str, pick: float, mirror: Store, views: list[dict[str, Any]]
    ) -> None:
        view = views[int(pick * len(views))]
        rows = view.get("outbox", {}).values()
        if world.down_until(relay) is not None or all(r.get("sent") is True for r in rows):
            return  # stopped, or nothing to do in what it read
        for effect in self._tick(world, relay, view):
            if effect["kind"] == "commit":
                problem, _ = mirror.commit(effect["writes"], [])
                if problem:  # refused in the world too: nothing after it counted
                    break
                views.append(mirror.snapshot())

    def _tick(self, world: World, relay: str, view: dict[str, Any]) -> list[dict[str, Any]]:
        """One tick of one instance, reading ``view``; returns the effects that were not cut off."""
        tick = {
            "id": f"tick@{world.now}",
            "type": "RelayTick",
            "data": {"relay": relay, "relays": list(self.relays)},
            "correlation_id": None,
            "source": "clock",
            "attempt": 1,
        }
        before = len(world.broker.published)
        resp = world.invoke(
            relay, "relay_tick", f"{relay}.relay_tick:{tick['id']}#1", event=tick, snapshot=view
        )
        if resp["crashed"] or resp["conflict"]:
            # What this tick published and did not get to mark: a crash between a publish and its
            # mark, the one case where at-least-once delivery repeats an event.
            rows = world.stores["order"].rows("outbox")
            keys = self._keys(world)
            doubt = []
            for msg in world.broker.published[before:]:
                eid = _event_id(msg)
                key = keys.get(eid) if eid else None
                row = rows.get(key) if key else None
                if eid and row is not None and row.get("sent") is not True:
                    doubt.append(eid)
            if doubt:
                world.note("in_doubt", sorted(set(doubt)))
        effects: list[dict[str, Any]] = resp["effects"]
        return effects

    @staticmethod
    def _keys(world: World) -> dict[str, str]:
        return {e["data"]["event_id"]: e["key"] for e in world.notes["data"][0]["events"]}

    def observe(self, world: World, sub: Subscription, msg: dict[str, Any]) -> None:
        world.note("received", msg)

    # -- what the run shows ---------------------------------------------------------------------------
    def facts(self, world: World) -> dict[str, list[str]]:
        events = world.notes["data"][0]["events"]
        by_id = {e["data"]["event_id"]: e for e in events}
        received: list[dict[str, Any]] = world.notes.get("received", [])
        lost, ghosts, disorder, dups = [], [], [], []
        got: set[str] = set()
        for msg in received:
            eid = _event_id(msg)
            event = by_id.get(eid) if eid else None
            if eid is None or event is None:
                ghosts.append(
                    f"shipping received {msg['type']} ({_short(msg['data'])}) but no committed "
                    f"outbox row holds that event"
                )
                continue
            if msg["type"] != event["type"] or msg["data"] != event["data"]:
                ghosts.append(
                    f"shipping received {msg['type']} {_short(msg['data'])}, but the committed row "
                    f"{event['key']} says {event['type']} {_short(event['data'])}"
                )
            if msg["correlation_id"] and msg["correlation_id"] != event["correlation_id"]:
                world.note(
                    "correlation",
                    f"{event['type']} of {event['order_id']} was published with correlation id "
                    f"{msg['correlation_id']!r}, its outbox row has {event['correlation_id']!r}",
                )
            if eid in got:
                continue
            earlier = [
                e
                for e in events
                if e["order_id"] == event["order_id"]
                and e["k"] < event["k"]
                and e["data"]["event_id"] not in got
            ]
            if earlier:
                disorder.append(
                    f"shipping received {event['type']} of {event['order_id']} (row {event['key']}) "
                    f"before its {earlier[0]['type']} (row {earlier[0]['key']})"
                )
            got.add(eid)
        for e in events:
            if e["data"]["event_id"] not in got:
                lost.append(
                    f"{e['type']} of {e['order_id']} (outbox row {e['key']}, committed at t={e['t']}) "
                    f"never reached shipping"
                )
        for note in world.notes.get("overwritten", []):
            lost.append(f"the Order service could not write {note}")
        published = Counter(
            eid for eid in (_event_id(m) for m in world.broker.published) if eid and eid in by_id
        )
        doubts: list[list[str]] = world.notes.get("in_doubt", [])
        licences = Counter(eid for doubt in doubts for eid in doubt)
        again = {eid: n - 1 for eid, n in published.items() if n > 1}
        for eid, n in sorted(again.items(), key=lambda item: by_id[item[0]]["key"]):
            if n > licences[eid]:
                e = by_id[eid]
                dups.append(
                    f"{e['type']} of {e['order_id']} (row {e['key']}) was published {n + 1} times, "
                    f"but only {licences[eid]} relay tick(s) ended between publishing it and marking "
                    f"it sent (a crash, or a commit the store refused)"
                )
        allowed = len(doubts) * self.DUPLICATES_PER_CRASH
        if sum(again.values()) > allowed:
            dups.append(
                f"{sum(again.values())} event(s) were published again in all, but relay ticks ended "
                f"between a publish and its mark only {len(doubts)} time(s): at most "
                f"{self.DUPLICATES_PER_CRASH} repeat per such crash"
            )
        return {
            "no_lost_event": lost,
            "no_ghost_event": ghosts,
            "order_events_in_order": disorder,
            "duplicates_only_after_crash": dups,
        }


def _event_id(msg: dict[str, Any]) -> str | None:
    data = msg.get("data")
    eid = data.get("event_id") if isinstance(data, dict) else None
    return eid if isinstance(eid, str) else None


def _short(data: Any) -> str:
    if not isinstance(data, dict):
        return repr(data)[:80]
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= 100 else text[:97] + "..."


SCENARIO = OutboxRelay()
