"""Named invariants, each explained in plain language for learners.

A check takes the finished world and the scenario's *facts* (what it measured
after the run) and returns a list of problems, empty when the invariant holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .report import InvariantInfo

if TYPE_CHECKING:  # checks read the finished world
    from .world import World

Facts = dict[str, Any]  # what a scenario measured after the run (Scenario.facts)
Check = Callable[["World", Facts], list[str]]  # the problems found; empty when it holds


@dataclass(frozen=True)
class Invariant:
    name: str
    title: str
    explanation: str
    check: Check


def _orders(facts: Facts) -> dict[str, Any]:
    orders: dict[str, Any] = facts.get("orders", {})
    return orders


def _no_double_charge(world: World, facts: Facts) -> list[str]:
    out = [
        f"{what} was charged {n} times"
        for what, n in sorted(facts.get("charges", {}).items())
        if n > 1
    ]
    listed: list[str] = facts.get("no_double_charge", [])
    return out + listed


def _settles(world: World, facts: Facts) -> list[str]:
    if world.finished:
        return []
    if getattr(world, "exhausted", False):
        return [
            f"your code was called {world.round_trips} times in one run without the system settling "
            f"(an endless retry or RetryLater loop?)"
        ]
    return [
        f"the system had not settled after {world.now} ms of virtual time ({world.sched.steps} steps): "
        f"something keeps retrying or waiting forever"
    ]


def _orders_resolve(world: World, facts: Facts) -> list[str]:
    out = []
    for oid, o in sorted(_orders(facts).items()):
        if o["status"] not in ("CONFIRMED", "CANCELLED"):
            out.append(f"{oid} is still {o['status']} at the end of the consistency window")
    listed: list[str] = facts.get("orders_resolve", [])
    return out + listed


def _confirmed_is_complete(world: World, facts: Facts) -> list[str]:
    return [
        f"{oid} is CONFIRMED but " + ", ".join(o["missing"])
        for oid, o in sorted(_orders(facts).items())
        if o["status"] == "CONFIRMED" and o["missing"]
    ]


def _cancelled_is_clean(world: World, facts: Facts) -> list[str]:
    return [
        f"{oid} is CANCELLED but " + ", ".join(o["held"])
        for oid, o in sorted(_orders(facts).items())
        if o["status"] == "CANCELLED" and o["held"]
    ]


def _conservation(world: World, facts: Facts) -> list[str]:
    return [
        f"{label}: expected {want}, found {got}"
        for label, want, got in facts.get("conservation", [])
        if want != got
    ]


def _ghost(world: World, facts: Facts) -> list[str]:
    noted: list[str] = world.notes.get("ghost", [])
    listed: list[str] = facts.get("no_ghost_event", [])
    return noted + listed


def _correlation(world: World, facts: Facts) -> list[str]:
    out = [
        f"{m['type']} ({m['id']}) was published without a correlation id"
        for m in world.broker.published
        if not m.get("correlation_id")
    ]
    out += [
        f"{c['caller']} called {c['service']}.{c['op']} without a correlation id"
        for c in world.rpc.calls
        if not c.get("correlation_id")
    ]
    return list(dict.fromkeys(out + world.notes.get("correlation", [])))


def _facts(name: str) -> Check:
    """A check whose problems the scenario listed itself, under ``facts[name]``."""

    def check(world: World, facts: Facts) -> list[str]:
        problems: list[str] = facts.get(name, [])
        return problems

    return check


_ALL = [
    Invariant(
        "no_double_charge",
        "No double charge",
        "A customer is charged at most once per order, however many times a request is retried or a "
        "message is redelivered. Retries and duplicates are normal in a distributed system; the handler "
        "that takes money must recognise a repeat (an idempotency key, a processed-messages table) and "
        "do nothing the second time.",
        _no_double_charge,
    ),
    Invariant(
        "settles",
        "The system settles",
        "Once the faults stop, the system comes to rest within the consistency window: no message is "
        "retried forever, no loop keeps calling, nothing waits for an answer that never comes.",
        _settles,
    ),
    Invariant(
        "orders_resolve",
        "Every order resolves",
        "Once the faults stop, every order (or booking) ends CONFIRMED or CANCELLED within the "
        "consistency window. An order left PENDING forever is a ghost order or a stuck reservation: "
        "some message was lost, a step was never retried, or a failure path has no way forward.",
        _orders_resolve,
    ),
    Invariant(
        "confirmed_is_complete",
        "A confirmed order is complete",
        "An order that is CONFIRMED has everything it promises: stock reserved and money captured "
        "(or every leg of a trip booked). Confirming before all steps have succeeded tells the customer "
        "something that is not true.",
        _confirmed_is_complete,
    ),
    Invariant(
        "cancelled_is_clean",
        "A cancelled order is clean",
        "An order that is CANCELLED holds nothing: no stock reserved, no money captured, no leg booked. "
        "Every step that succeeded before the failure must have been compensated (released, refunded, "
        "cancelled), exactly once.",
        _cancelled_is_clean,
    ),
    Invariant(
        "conservation",
        "Stock and money are conserved",
        "Nothing is created or destroyed: units of stock are either available or reserved/sold, and "
        "money is either with the customer or with the merchant. A duplicated compensation (refunding "
        "twice) or a missing one shows up here.",
        _conservation,
    ),
    Invariant(
        "no_lost_event",
        "No lost event",
        "Every state change that others depend on is eventually announced. If a service commits a change "
        "and crashes before publishing the event (or publishes outside its transaction), the rest of the "
        "system never hears about it. The outbox pattern fixes this.",
        _facts("no_lost_event"),
    ),
    Invariant(
        "no_ghost_event",
        "No ghost event",
        "No event announces a change that was never committed. Publishing before the local transaction "
        "commits means a crash can leave the world believing in an order that does not exist.",
        _ghost,
    ),
    Invariant(
        "correlation_ids_present",
        "Correlation ids everywhere",
        "Every command, event and call carries the correlation id of the business operation it belongs "
        "to, copied from the message that caused it. Without it you cannot follow one order end to end "
        "through the logs.",
        _correlation,
    ),
    Invariant(
        "retries_bounded_and_spread",
        "Retries are bounded and spread out",
        "A client gives up after a bounded number of attempts, waits only sensible amounts of time, "
        "and uses randomness (jitter) so that clients that failed together do not retry together: once "
        "the service is back, no short window sees more retries than it can take. Synchronised retries "
        "flatten a recovering service again (a retry storm).",
        _facts("retries_bounded_and_spread"),
    ),
    Invariant(
        "requests_complete",
        "Clients get through",
        "When a dependency is down only briefly, most clients' requests succeed once it is back: a client "
        "keeps trying for longer than a short outage lasts. Giving up after a handful of quick retries "
        "turns a short outage into failed requests.",
        _facts("requests_complete"),
    ),
    Invariant(
        "twopc_agreement",
        "2PC participants agree and are not left blocked",
        "All participants of a two-phase commit reach the same decision (all commit or all abort), and "
        "none is left prepared, holding its locks, waiting for a coordinator that never tells it the "
        "outcome.",
        _facts("twopc_agreement"),
    ),
    Invariant(
        "confirmed_once",
        "Confirmed exactly once",
        "Each paid order is confirmed exactly once: one state change and one OrderConfirmed event, "
        "however many times its PaymentCaptured event is delivered (duplicates, redelivery after a "
        "crash).",
        _facts("confirmed_once"),
    ),
    Invariant(
        "key_reuse_rejected",
        "A reused idempotency key is rejected",
        "If a client sends the same idempotency key with a different payload, the server refuses it "
        "instead of replaying the old result or charging again: it is a client bug, not a retry.",
        _facts("key_reuse_rejected"),
    ),
    Invariant(
        "retry_gets_same_answer",
        "A retry gets the original answer",
        "When a client retries with the same idempotency key, it gets the result of the original request "
        "(the same charge id) rather than a new one or an error.",
        _facts("retry_gets_same_answer"),
    ),
    Invariant(
        "poison_isolated",
        "Poison messages are isolated",
        "A message that can never be processed ends in the dead-letter queue after a bounded number of "
        "attempts (visible, alertable) instead of being dropped silently or retried forever, and good "
        "messages are never dead-lettered.",
        _facts("poison_isolated"),
    ),
    Invariant(
        "no_charge_without_shipment",
        "No charge without a shipment",
        "A customer is never charged (money captured, not just held) without a scheduled shipment for "
        "longer than the allowed window in total, and never left charged without one at the end: either "
        "hold (authorize) the money until shipping accepts, or refund it before the window runs out.",
        _facts("no_charge_without_shipment"),
    ),
    Invariant(
        "saga_compensates",
        "Every failure is compensated",
        "Whichever step of the saga fails, every step that already succeeded is compensated, in reverse "
        "order, and the order ends CANCELLED; when nothing fails it ends CONFIRMED with every step done.",
        _facts("saga_compensates"),
    ),
]

# Payments and consumers (issue 14: invariants as strong as the statements).
_ALL += [
    Invariant(
        "charge_is_recorded",
        "A charged answer is backed by a charge",
        'Every "charged" answer names a charge that really exists: a row in the charges table under that '
        "charge id, for that order and its amount, with the money taken from that customer's balance. An "
        "answer copied from another payment, or a charge id invented on a retry, tells the client something "
        "that is not true.",
        _facts("charge_is_recorded"),
    ),
    Invariant(
        "decline_is_justified",
        "Only a short balance is declined",
        "Every new payment is answered charged or declined, and declined only when the customer's balance is "
        "below its amount at the moment the service decides; no balance ever goes below zero. Replaying the "
        "wrong stored answer (one stored under the order or the customer instead of the key) declines a "
        "payment that should have gone through.",
        _facts("decline_is_justified"),
    ),
    Invariant(
        "ledger_is_right",
        "The ledger is right",
        "Every good event is booked once, under its order id, for its amount converted at the rate the FX "
        "service gave for its currency. A hard-coded rate or a booking of the wrong order is a wrong ledger "
        "even if nothing is lost.",
        _facts("ledger_is_right"),
    ),
]

# Two-phase commit (issue 14: a coordinator that never commits must not pass).
_ALL += [
    Invariant(
        "twopc_commits",
        "A transfer both banks accept commits",
        "Two-phase commit aborts only for a reason: a bank voted no, a vote could not be heard (a lost "
        "prepare request or reply, a bank that crashed while preparing), or the coordinator crashed while "
        "handling it. Otherwise the transfer must end COMMITTED in both banks; a coordinator that aborts "
        "it, or never asks, loses a transfer the banks were ready to make.",
        _facts("twopc_commits"),
    ),
]

INVARIANTS: dict[str, Invariant] = {inv.name: inv for inv in _ALL}


def describe(name: str) -> InvariantInfo:
    inv = INVARIANTS[name]
    return {"name": inv.name, "title": inv.title, "explanation": inv.explanation}


# -- appended by the order saga scenarios ----------------------------------------------------------
INVARIANTS["cancelled_for_a_reason"] = Invariant(
    "cancelled_for_a_reason",
    "An order is cancelled only for a reason",
    "An order (or trip) is refused and cancelled only when it really cannot be served: there was not enough "
    "stock or money when it was checked, or a participant answered with a refusal (out of stock, declined, "
    "unavailable). A timeout or a 'busy' answer is not a refusal: the step may have happened, or may work "
    "a moment later, so try it again with the same idempotency key.",
    _facts("cancelled_for_a_reason"),
)
INVARIANTS["nothing_dead_lettered"] = Invariant(
    "nothing_dead_lettered",
    "No message is dead-lettered",
    "Every message of the scenario can be handled, so none may end in the dead-letter queue. A handler "
    "that raises on a duplicate (an insert that hits DuplicateKey and is not caught, for instance) is "
    "retried until the retry cap and then dead-lettered: someone gets paged for a message that was "
    "already handled. Recognise the repeat and return instead.",
    _facts("nothing_dead_lettered"),
)
INVARIANTS["one_answer_per_order"] = Invariant(
    "one_answer_per_order",
    "One answer per order",
    "Each service answers an order one way: Inventory never announces both InventoryReserved and "
    "InventoryFailed for the same order, and Payment never both PaymentSucceeded and PaymentFailed. A refusal "
    "published before the handler's transaction commits is repeated by the redelivery after a crash, and by "
    "then stock may have come back: the order is refused and reserved. Put the answer in the same "
    "transaction as the record that the request was handled (tx.outbox), so a redelivery sees it.",
    _facts("one_answer_per_order"),
)

# -- appended by the outbox_relay scenario ---------------------------------------------------------
INVARIANTS["order_events_in_order"] = Invariant(
    "order_events_in_order",
    "Each order's events arrive in order",
    "Consumers see the events of one order (one aggregate) in the order they were committed: OrderPlaced "
    "before OrderPaid before OrderShipped. A copy of an event that was already received may come again "
    "later (consumers ignore it by its event id), but a new event must never overtake an older one of "
    "the same order. With several relays, one can hold an order's first event while another publishes "
    "its second: an order's next event may go out only once all its earlier ones have.",
    _facts("order_events_in_order"),
)
INVARIANTS["duplicates_only_after_crash"] = Invariant(
    "duplicates_only_after_crash",
    "Duplicates only after a crash",
    "At-least-once delivery allows one kind of repeat: a relay that crashes after publishing a row and "
    "before marking it sent publishes that row again once it (or another relay) picks it up. That is one "
    "repeat per such crash, and only of the row the crash left unmarked. Any other duplicate is a bug: "
    "two relays publishing the same row because neither claimed it, a whole batch published again "
    "because it is marked only at the end, a relay that never marks. Consumers can absorb a rare "
    "duplicate; they should not have to absorb a steady stream.",
    _facts("duplicates_only_after_crash"),
)

# -- appended by the circuit breaker scenario --------------------------------------------------
INVARIANTS["bounded_load_while_failing"] = Invariant(
    "bounded_load_while_failing",
    "Load on a failing dependency stays bounded",
    "While a dependency is failing (down, or refusing most calls), the breaker cuts what reaches it "
    "down to a trickle of trial calls once it has had a moment to notice. Without a breaker every "
    "request keeps hitting a service that cannot answer: the callers waste their time and the service "
    "gets no quiet time to recover. A breaker that counts only failures in a row never notices a "
    "dependency that fails most calls but not all, and one that closes after a single lucky trial "
    "lets the whole traffic back in while the dependency is still failing.",
    _facts("bounded_load_while_failing"),
)
INVARIANTS["fails_fast_while_open"] = Invariant(
    "fails_fast_while_open",
    "Callers fail fast while the breaker is open",
    "When call after call has failed, the breaker is open: a new request gets an immediate failure "
    "instead of a call that will probably hang until its timeout. A fast failure is not a lost "
    "request (the caller can fall back, retry later or compensate); a caller left waiting for a "
    "timeout on a dependency known to be down is. Every kind of failure counts, timeouts included, "
    "and a failed trial call opens the breaker again.",
    _facts("fails_fast_while_open"),
)
INVARIANTS["traffic_returns_after_recovery"] = Invariant(
    "traffic_returns_after_recovery",
    "Traffic returns after recovery",
    "A breaker is a temporary measure. After a cool-down it lets a few trial calls through; once they "
    "succeed it closes and requests flow again. While the dependency is healthy, almost every request "
    "must reach it: a breaker that never closes again, whose cool-down never ends, or that trips on an "
    "occasional isolated error (because it counts failures for ever instead of over a recent window) "
    "refuses work the dependency could do.",
    _facts("traffic_returns_after_recovery"),
)
INVARIANTS["no_storm_at_reopening"] = Invariant(
    "no_storm_at_reopening",
    "No storm at reopening",
    "When the breaker has been refusing calls and tries the dependency again (half-open), it sends a "
    "limited number of trial calls and waits to hear back before sending more. Letting every request "
    "through the moment the cool-down ends sends a burst at a dependency that may still be down, or "
    "only just back on its feet.",
    _facts("no_storm_at_reopening"),
)

# -- appended by the saga isolation scenario (sagas that share records) ---------------------------
INVARIANTS["no_lost_update"] = Invariant(
    "no_lost_update",
    "No update is lost",
    "Sagas that run at the same time change the same records, and every change must survive the "
    "others. Each write of a shared count is compared with the value it replaced: reserving takes an "
    "order's units, releasing gives them back, a delivery adds its own, and nothing else moves the "
    "count. A value computed from a read made before someone else's change (read, compute, set) or a "
    "compensation that puts back a value saved earlier ('set it back to 7' instead of 'add 3') replaces "
    "the other change instead of adding to it. Write changes relative to the current value, and make "
    "the write conditional on the version you read.",
    _facts("no_lost_update"),
)
INVARIANTS["no_oversell"] = Invariant(
    "no_oversell",
    "No unit is promised twice",
    "At no moment do the orders told 'reserved' (and not released since) hold more units of a product "
    "than have arrived, and no more are sold than arrived. A reservation that is still pending is a "
    "semantic lock: its units count as taken for every other saga until the saga confirms or releases "
    "them. Taking the units only when the payment succeeds lets two sagas promise the same last unit.",
    _facts("no_oversell"),
)

# -- appended by the tcc_holds scenario (try-confirm/cancel with holds that expire) -------------
INVARIANTS["confirm_after_every_try"] = Invariant(
    "confirm_after_every_try",
    "Nothing is confirmed before every try succeeded",
    "In try-confirm/cancel, the try step reserves (a stock hold, a card authorization) and the confirm "
    "step makes it real (commit the units, capture the money). A confirm is sent only once every try "
    "of the order has succeeded: capturing the money while the stock is not yet held takes it for an "
    "order that may still fail, and turns a cheap cancel into a refund.",
    _facts("confirm_after_every_try"),
)
INVARIANTS["holds_released"] = Invariant(
    "holds_released",
    "No hold is left blocking",
    "Every hold ends confirmed or released. When the saga cancels an order, the coordinator cancels "
    "every try it made, or might have made, at once: a hold left to lapse keeps the customer's money "
    "or the stock blocked until it expires. Expiry is the backstop for a cancel that never comes (the "
    "coordinator is down), not a substitute for sending it; and a participant whose holds never expire "
    "stays blocked for ever when the coordinator disappears.",
    _facts("holds_released"),
)
INVARIANTS["decided_within_hold"] = Invariant(
    "decided_within_hold",
    "The coordinator decides before the holds expire",
    "A hold lasts a fixed time, so the saga has a deadline: it stops trying and decides early enough "
    "that its confirm reaches every participant before the shortest hold lapses. A confirm that "
    "arrives after the hold expired fails; that is acceptable only when the coordinator was down "
    "while the hold lasted, and then the failure is handled by cancelling the rest, not by retrying.",
    _facts("decided_within_hold"),
)
