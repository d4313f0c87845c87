"""Poison messages: the learner writes Billing's ordered consumer ``on_order_placed(event, ctx)``
and sets ``MAX_ATTEMPTS``.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them), and every set holds every family below; only the details differ:

* **Unpredictable ids and rates.** Order ids (``ord-<hex>``), correlation ids, amounts,
  currencies (EUR, GBP, CHF, SEK) and FX rates (whole numbers 1-9 per currency) change every
  schedule: a hard-coded rate books a wrong ledger.
* **Malformed events (poison) of two shapes** in every schedule: one that fails loudly (an amount
  like ``"40 EUR"`` and no currency), and one that multiplies without complaint if nobody checks
  (a fractional amount, an amount that is a numeric string, a negative or zero amount). The
  ``malformed`` fault turns more events into the first shape.
* **The smallest good amount**: the first good event of every schedule is for an amount of
  ``SMALLEST_AMOUNT`` (1, a whole number greater than zero): a check that treats it as poison
  (``amount <= 1``, ``amount < 2``) dead-letters a good event.
* **A permanent refusal**: at least one well-formed event per schedule uses a currency FX does not
  know; FX answers ``{"error": "unknown_currency"}`` every time, so the event can never succeed.
* **A transient refusal**: FX is busy for a window of 150-900 ms starting in the first 60 ms and
  answers ``{"error": "busy"}``; the same call succeeds later. Giving up on it dead-letters a good
  event.
* **Timeouts** (``request_lost``): the FX call raises ``Timeout``; a retry succeeds.

Lesson playgrounds (fault plans in ``rules`` mode) get only good events, so their "A malformed
message" toggle decides whether there is poison.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


CURRENCIES = ("EUR", "GBP", "CHF", "SEK")
UNKNOWN = ("XTS", "ZZZ", "BTC", "XAU")


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _rate(world: World, data: dict[str, Any]) -> dict[str, Any]:
    book = world.notes["data"][0]
    start, end = book["busy"]
    if start <= world.now < end:
        return {"error": "busy"}
    rate = (
        book["rates"].get(data.get("currency")) if isinstance(data.get("currency"), str) else None
    )
    if rate is None:
        return {"error": "unknown_currency"}
    return {"currency": data.get("currency"), "rate": rate}


class PoisonMessage(Scenario):
    name = "poison_message"
    title = "Poison messages and the dead-letter queue"
    summary = (
        "The Billing service consumes OrderPlaced events in order, one at a time. Some producers send "
        "malformed events that can never be processed, and some orders use a currency the FX service "
        "does not know; FX is sometimes busy or times out. Write the consumer (and set MAX_ATTEMPTS, the "
        "retry cap before the dead-letter queue) so that poison goes to the DLQ, transient failures are "
        "retried, and good events are booked once, at the right rate."
    )
    lanes = ("producer", "billing", "fx")
    functions = ("on_order_placed",)
    signatures = {"on_order_placed": "on_order_placed(event, ctx)"}
    invariants = ("poison_isolated", "no_lost_event", "ledger_is_right", "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "request_lost", "malformed")
    rpc_ops = {("fx", "rate"): _rate}
    expected = {
        "reference": "pass",
        "retry_forever": "poison_isolated",
        "swallow_errors": "poison_isolated",
        "transient_to_dlq": "poison_isolated",
        "starter": "poison_isolated",
        "busy_is_poison": "poison_isolated",
        "retry_unknown_currency": "poison_isolated",
        "hard_coded_rate": "ledger_is_right",
        "no_validation": "poison_isolated",
        "rejects_amount_one": "poison_isolated",
        "fx_call_without_correlation_id": "correlation_ids_present",
    }
    DATA_WORLDS = 8  # data sets the schedules draw from; each has every family (see the docstring)
    DEFAULT_MAX_ATTEMPTS = 5
    BUSY_MIN_MS = 150
    BUSY_MAX_MS = 900
    SPACING_MS = 5
    SMALLEST_AMOUNT = (
        1  # the amount of the first good event in every schedule (the boundary of "good")
    )

    def configure(self, world: World, constants: dict[str, Any]) -> None:
        cap = constants.get("MAX_ATTEMPTS", self.DEFAULT_MAX_ATTEMPTS)
        world.broker.max_attempts = (
            cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None
        )

    def data(self, world: World) -> dict[str, Any]:
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        rates = {c: rng.randint(1, 9) for c in CURRENCIES}
        n = rng.randint(5, 6)
        kinds = ["good"] * n
        kinds[0], kinds[1], kinds[2] = "malformed", "sneaky", "unknown"
        rng.shuffle(kinds)
        events: list[dict[str, Any]] = []
        for kind in kinds:
            oid, amount, currency = (
                f"ord-{_hex(rng, 6)}",
                rng.randint(5, 90),
                rng.choice(CURRENCIES),
            )
            data: dict[str, Any] = {"order_id": oid, "amount": amount, "currency": currency}
            if kind == "unknown":
                data["currency"] = rng.choice(UNKNOWN)
            elif kind == "malformed":  # fails loudly if nobody checks
                data = {"order_id": oid, "amount": f"{amount} {currency}"}
            elif kind == "sneaky":  # multiplies without complaint if nobody checks
                data["amount"] = [amount + 0.5, str(amount), -amount, 0][
                    index % 4
                ]  # each shape in 2 sets
            events.append(
                {
                    "data": data,
                    "kind": "good"
                    if kind == "good"
                    else "malformed"
                    if kind != "unknown"
                    else "unknown",
                    "correlation_id": f"chk-{_hex(rng, 10)}",
                }
            )
        next(e for e in events if e["kind"] == "good")["data"]["amount"] = self.SMALLEST_AMOUNT
        start = rng.randint(0, 60)
        return {
            "rates": rates,
            "events": events,
            "busy": (start, start + rng.randint(self.BUSY_MIN_MS, self.BUSY_MAX_MS)),
        }

    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        world.broker.subscribe("OrderPlaced", "billing", "on_order_placed", ordered=True)
        poison = []
        if getattr(world.plan, "mode", None) == "rules":
            # A lesson playground (faults forced by toggles): poison only where a toggle puts it.
            data["events"] = [
                dict(
                    ev,
                    kind="good",
                    data={
                        "order_id": ev["data"]["order_id"],
                        "amount": 10 + i,
                        "currency": CURRENCIES[i % 4],
                    },
                )
                for i, ev in enumerate(data["events"])
            ]
        for i, ev in enumerate(data["events"], 1):
            payload = dict(ev["data"])
            oid = payload["order_id"]
            if ev["kind"] == "good" and world.plan.fires("malformed", f"producer:msg-{i}", 0):
                payload = {
                    "order_id": oid,
                    "amount": f"{payload['amount']} {payload['currency']}",
                }  # a producer bug
                ev = dict(ev, kind="malformed", data=payload)
            if ev["kind"] != "good":
                poison.append(oid)
            msg = {
                "id": f"cmd-{i}",
                "type": "OrderPlaced",
                "data": payload,
                "correlation_id": ev["correlation_id"],
                "source": "producer",
            }
            world.sched.at((i - 1) * self.SPACING_MS, world.broker.publish, "producer", msg)
            world.note("events", ev)
        world.notes["poison"] = sorted(poison)

    def facts(self, world: World) -> dict[str, Any]:
        rates = world.notes["data"][0]["rates"]
        events = world.notes.get("events", [])
        poison = set(world.notes.get("poison", []))
        ledger = world.stores["billing"].rows("ledger")
        booked: dict[Any, int] = {}  # by the order ids the ledger rows hold
        for row in ledger.values():
            booked[row.get("order_id")] = booked.get(row.get("order_id"), 0) + 1
        dead = {
            msg["data"].get("order_id"): why
            for _, msg, why in world.broker.dlq
            if isinstance(msg["data"], dict)
        }
        isolated, lost, right = [], [], []
        for ev in events:
            oid = ev["data"]["order_id"]
            if oid in poison:
                what = (
                    "malformed event"
                    if ev["kind"] == "malformed"
                    else f"event in currency {ev['data'].get('currency')!r} (unknown to FX)"
                )
                if booked.get(oid) or oid in ledger:
                    isolated.append(
                        f"the {what} for {oid} was booked in the ledger instead of dead-lettered"
                    )
                elif oid not in dead:
                    isolated.append(
                        f"the {what} for {oid} "
                        + (
                            "was dropped silently (not in the dead-letter queue)"
                            if world.finished
                            else "is still being retried, blocking the events queued behind it"
                        )
                    )
            elif oid in dead:
                isolated.append(f"the good event for {oid} was dead-lettered: {dead[oid]}")
            elif oid not in ledger:
                lost.append(f"the event for {oid} was never booked in the ledger")
            else:
                want = ev["data"]["amount"] * rates[ev["data"]["currency"]]
                row = ledger[oid]
                if booked.get(oid, 0) > 1:
                    right.append(f"{oid} is booked {booked[oid]} times")
                if row.get("order_id") != oid or row.get("usd") != want:
                    right.append(
                        f"ledger[{oid}] is {row}, expected order_id {oid!r} and usd {want} "
                        f"({ev['data']['amount']} x rate {rates[ev['data']['currency']]})"
                    )
        return {"poison_isolated": isolated, "no_lost_event": lost, "ledger_is_right": right}


SCENARIO = PoisonMessage()
