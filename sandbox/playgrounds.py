"""Lesson playgrounds: one deterministic, cheap run of trusted code with the
faults a learner switched on, so a lesson can show a pattern holding or breaking.

``run(key, toggles, seed)`` returns the grading report shape (always with the
trace in ``counterexample``, and also under ``trace``). Toggles not given take
their default; unknown toggle names are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypedDict

from . import scenarios
from .explore import simulate
from .faults import FaultPlan
from .report import PlaygroundReport
from .runner import InProcessRunner
from .scenarios.circuit_breaker import SCENARIO as _CB
from .scenarios.order_saga_choreography import SCENARIO as _CHOREO
from .scenarios.saga_isolation import SCENARIO as _ISOLATION
from .scenarios.tcc_holds import SCENARIO as _TCC
from .scenarios.unknown_outcome import SCENARIO as _UNKNOWN


class Toggle(TypedDict):
    name: str
    label: str
    kind: Literal["fault", "pattern"]
    default: bool
    help: str


class Playground(TypedDict):
    title: str
    scenario: str  # the scenario whose world and invariants it runs
    toggles: list[Toggle]


Rule = dict[str, Any]  # a FaultPlan rule: {"kind", "match", "at"?, "times"?}
# What a playground runs for its toggles: (scenario name, trusted source, fault rules).
Built = tuple[str, str, list[Rule]]


def _t(
    name: str, label: str, kind: Literal["fault", "pattern"], default: bool, help: str
) -> Toggle:
    return {"name": name, "label": label, "kind": kind, "default": default, "help": help}


PLAYGROUNDS: dict[str, Playground] = {
    "order-saga": {
        "title": "Order saga: outbox, deduplication, choreography or orchestration",
        "scenario": "order_saga_choreography",
        "toggles": [
            _t(
                "outbox",
                "Publish through the outbox",
                "pattern",
                True,
                "On: events are written in the same transaction as the state change and a relay publishes them. "
                "Off: each service commits, then publishes (a dual write).",
            ),
            _t(
                "dedup",
                "Deduplicate (inbox / idempotency keys)",
                "pattern",
                True,
                "On: handlers remember processed message ids (choreography) or calls carry idempotency keys "
                "(orchestration). Off: a repeated message or call is processed again.",
            ),
            _t(
                "orchestration",
                "Use an orchestrator",
                "pattern",
                False,
                "Off: choreography (services react to each other's events). On: one orchestrator calls "
                "Inventory and Payment and keeps the saga state.",
            ),
            _t(
                "duplicate_delivery",
                "Duplicate delivery",
                "fault",
                False,
                "The broker delivers the message that triggers the payment twice (or, with an orchestrator, "
                "the capture reply is lost and the call is retried).",
            ),
            _t(
                "crash_after_commit",
                "Crash after commit",
                "fault",
                False,
                "A service crashes right after its database commit, before it publishes or acknowledges.",
            ),
            _t(
                "relay_crash",
                "Publisher crashes after commit",
                "fault",
                False,
                "The process that publishes events dies after the commit, before the event is marked sent. "
                "With the outbox that is the relay, which publishes again on restart (a duplicate). Without "
                "an outbox it is the service itself, and the event is simply gone.",
            ),
            _t(
                "payment_fails",
                "Payment fails",
                "fault",
                False,
                "The first customer's card is declined: the reserved stock must be released.",
            ),
        ],
    },
    "travel-booking": {
        "title": "Travel booking: compensations",
        "scenario": "travel_booking",
        "toggles": [
            _t(
                "compensate",
                "Compensate booked legs",
                "pattern",
                True,
                "When a leg fails, cancel the legs already booked, newest first.",
            ),
            _t(
                "idempotent_compensation",
                "Idempotent compensation",
                "pattern",
                True,
                "Cancellations carry an idempotency key, so sending one twice refunds once.",
            ),
            _t(
                "hotel_fails",
                "Hotel fails",
                "fault",
                True,
                "The hotel has no availability for the first trip.",
            ),
            _t(
                "orchestrator_crash",
                "Orchestrator crashes",
                "fault",
                False,
                "The orchestrator crashes after booking the flight; its command is delivered again.",
            ),
            _t(
                "cancel_reply_lost",
                "Cancel reply lost",
                "fault",
                False,
                "The airline cancels the flight but its reply is lost, so the orchestrator retries the cancel.",
            ),
        ],
    },
    "idempotent-charge": {
        "title": "Charging a card with an idempotency key",
        "scenario": "idempotent_charge",
        "toggles": [
            _t(
                "idempotency_key",
                "Honour the idempotency key",
                "pattern",
                True,
                "The payment API stores each key with its result, in the same transaction as the charge, and "
                "replays the result when the key comes again.",
            ),
            _t(
                "reply_lost",
                "Reply lost, client retries",
                "fault",
                True,
                "The API charges the card but the reply is lost; the client times out and retries with the "
                "same key.",
            ),
            _t(
                "key_reuse",
                "Key reused with another amount",
                "fault",
                False,
                "A buggy client sends the same key with a different amount.",
            ),
        ],
    },
    "two-phase-commit": {
        "title": "Two-phase commit and the blocking problem",
        "scenario": "two_phase_commit",
        "toggles": [
            _t(
                "coordinator_crash",
                "Coordinator crashes after prepare",
                "fault",
                False,
                "Both banks voted yes and hold their locks; the coordinator crashes before sending the "
                "decision and does not come back within the window.",
            ),
            _t(
                "vote_no",
                "A participant votes no",
                "fault",
                False,
                "bank_b refuses the first transfer.",
            ),
        ],
    },
    "retry-storm": {
        "title": "Retry storms: backoff, jitter and a cap",
        "scenario": "retry_storm",
        "toggles": [
            _t(
                "backoff",
                "Exponential backoff",
                "pattern",
                True,
                "Each retry waits twice as long as the last.",
            ),
            _t(
                "jitter",
                "Jitter",
                "pattern",
                True,
                "Each client waits a random part of the backoff, so "
                "clients that failed together do not retry together.",
            ),
            _t(
                "cap",
                "Retry cap",
                "pattern",
                True,
                "Give up after a bounded number of attempts (then alert / dead-letter): 10 with backoff. "
                "Without backoff 10 attempts are gone in a second, so here the cap allows 50 quick ones: a "
                "budget of a few seconds of retrying instead of a count.",
            ),
            _t(
                "long_outage",
                "Long outage",
                "fault",
                False,
                "Inventory stays down for the whole window.",
            ),
        ],
    },
    "shipping-down": {
        "title": "Shipping is down: no charge without a shipment",
        "scenario": "shipping_down",
        "toggles": [
            _t(
                "authorize_first",
                "Swap in a design that passes (spoiler)",
                "pattern",
                True,
                "Off: the design so far, which takes the money and then asks shipping. On: a design that "
                "keeps the money rule, whose trace gives the answer away: try the challenge first.",
            ),
            _t(
                "long_outage",
                "Shipping down for most of the window",
                "fault",
                True,
                "Shipping is down for 50 s of the 60 s window (off: from half a second to about twelve).",
            ),
        ],
    },
    "poison-message": {
        "title": "Poison messages and the dead-letter queue",
        "scenario": "poison_message",
        "toggles": [
            _t(
                "dlq",
                "Dead-letter queue",
                "pattern",
                True,
                "On: a message that fails 5 times (or is rejected as poison) moves to the DLQ. Off: it is "
                "retried forever, blocking the queue behind it.",
            ),
            _t(
                "poison",
                "A malformed message",
                "fault",
                True,
                "The producer sends one event with a bad amount.",
            ),
            _t(
                "fx_timeout",
                "FX service times out",
                "fault",
                False,
                "A transient failure: must be retried.",
            ),
        ],
    },
    "circuit-breaker": {
        "title": "Circuit breaker: open, half-open, closed",
        "scenario": "circuit_breaker",
        "toggles": [
            _t(
                "breaker",
                "Circuit breaker",
                "pattern",
                True,
                f"On: the Gateway opens the breaker when {_CB.FAILURE_RATE_PERCENT}% of the last "
                f"{_CB.WINDOW_SIZE} calls failed, fails requests fast while it is open, and tries Inventory "
                f"again after {_CB.OPEN_MS} ms. Off: every request is sent to Inventory, down or not.",
            ),
            _t(
                "trial_limit",
                "Limit the trial calls",
                "pattern",
                True,
                f"On: after the cool-down (half-open) only {_CB.TRIAL_CALLS} trial calls go out, and the "
                "rest fail fast until they come back. Off: every request that arrives while the trials "
                "are out is sent too.",
            ),
            _t(
                "window",
                "Count failures over a window",
                "pattern",
                True,
                f"On: the failure rate of the last {_CB.WINDOW_SIZE} calls decides. Off: failures are "
                f"counted for ever, and {_CB.MIN_CALLS} of them open the breaker.",
            ),
            _t(
                "stays_down",
                "Inventory stays down",
                "fault",
                False,
                "The second failure (Inventory answering most calls with an error) lasts until the "
                "traffic stops.",
            ),
        ],
    },
    "outbox-relay": {
        "title": "Writing the outbox relay: two instances, claims and a crash",
        "scenario": "outbox_relay",
        "toggles": [
            _t(
                "two_relays",
                "Two relay instances",
                "pattern",
                True,
                "On: relay-1 and relay-2 both poll the Order service's outbox, at nearly the same "
                "moment. Off: only relay-1 publishes (relay-2 stands by).",
            ),
            _t(
                "claim",
                "Claim a row before publishing it",
                "pattern",
                True,
                "On: before publishing a row a relay inserts a claim for it (one key per row and "
                "attempt, so the store refuses the second of two relays claiming together) and leaves "
                "alone an order whose next row another relay holds a live claim on. Off: each relay "
                "publishes every unsent row it reads, then marks it sent.",
            ),
            _t(
                "relay_crash",
                "relay-1 crashes between publish and mark",
                "fault",
                False,
                "relay-1 dies in its first tick right after publishing a row, before the commit that "
                "marks it sent (when that tick gets as far as a publish). The row is published again "
                "later: the one duplicate at-least-once delivery allows.",
            ),
        ],
    },
    "late-payment": {
        "title": "A late answer after the saga's timeout",
        "scenario": "order_saga_choreography",
        "toggles": [
            _t(
                "order_timeout",
                "Order times out a PENDING order",
                "pattern",
                True,
                f"On: {_CHOREO.ORDER_TIMEOUT_MS // 1000} s after an order was placed, Order cancels it "
                "if it is still PENDING and sends ReleaseStock. Off: Order waits for Payment's answer "
                "however long it takes.",
            ),
            _t(
                "refund_late_success",
                "Refund a payment that succeeds too late",
                "pattern",
                True,
                "On: a PaymentSucceeded for an order the timeout already cancelled makes Order send "
                "RefundPayment (and ReleaseStock again). Off: it is dropped, as by an UPDATE ... WHERE "
                "status = 'PENDING' that matches no row.",
            ),
            _t(
                "late_payment",
                "Payment's answer arrives late",
                "fault",
                True,
                "Payment captures the first order's money at once, but its PaymentSucceeded reaches "
                "Order only after the timeout.",
            ),
        ],
    },
    "expiring-holds": {
        "title": "Try-confirm/cancel: holds that expire by themselves",
        "scenario": "tcc_holds",
        "toggles": [
            _t(
                "holds_expire",
                "Holds expire by themselves",
                "pattern",
                True,
                f"On: a stock hold lapses {_TCC.STOCK_HOLD_MS / 1000:g} s after it was taken and a card "
                f"authorization {_TCC.CARD_HOLD_MS / 1000:g} s after, giving the units or the money "
                "back. Off: a hold lasts until somebody confirms or cancels it.",
            ),
            _t(
                "deadline_within_hold",
                "Decide within the shortest hold",
                "pattern",
                True,
                "On: the checkout stops retrying and decides 2.5 s after the order arrived, before the "
                "stock hold can lapse. Off: it keeps trying for 8 s, longer than any hold lasts.",
            ),
            _t(
                "payment_down",
                "Payment is down for a while",
                "fault",
                True,
                f"Payment is unreachable for the first {_TCC.PLAYGROUND_OUTAGE_MS / 1000:g} s: the "
                "stock is held at once, the card authorization has to wait.",
            ),
            _t(
                "coordinator_down",
                "The checkout crashes after its first try",
                "fault",
                False,
                "The checkout dies right after holding o1's stock, before it authorizes the card, and "
                "does not come back: nobody is left to confirm or cancel o1 (or to handle o2).",
            ),
        ],
    },
    "unknown-outcome": {
        "title": "A capture that times out: decide, then close the door",
        "scenario": "unknown_outcome",
        "toggles": [
            _t(
                "tombstone",
                "Give up with a cancel (a tombstone)",
                "pattern",
                True,
                "On: when the checkout gives up, Payment's cancel refunds a capture that happened and "
                "refuses any capture for the order that arrives later. Off: a refund, which only undoes "
                "a capture that already happened.",
            ),
            _t(
                "retry_compensation",
                "Retry the cancel until Payment answers",
                "pattern",
                True,
                "On: after the decision, the cancel (or refund) is retried until Payment answers. Off: "
                "it is tried once, and forgotten if it times out.",
            ),
            _t(
                "payment_down",
                "Payment is down for a while",
                "fault",
                True,
                f"Payment is unreachable for the first {_UNKNOWN.PLAYGROUND_OUTAGE_MS // 1000} s, "
                "longer than the checkout keeps trying: it has to decide without an answer.",
            ),
            _t(
                "slow_capture",
                "The first capture is slow",
                "fault",
                True,
                "The first order's first capture request times out at once but reaches Payment "
                f"{_UNKNOWN.PLAYGROUND_LATE_MS / 1000:g} s later, and is processed then.",
            ),
        ],
    },
    "saga-isolation": {
        "title": "Two sagas, four lamps: what they see of each other",
        "scenario": "saga_isolation",
        "toggles": [
            _t(
                "semantic_lock",
                "Reserve takes the units at once (a semantic lock)",
                "pattern",
                True,
                "On: a reservation takes its units from the count and holds them RESERVED until the saga "
                "confirms or releases them. Off: it only checks the count and records a PENDING hold; the "
                "units are taken when the payment succeeds.",
            ),
            _t(
                "conditional_update",
                "Writes are conditional on the version read",
                "pattern",
                True,
                "On: every write of a stock row sets version = the version read + 1, and the database "
                "refuses it if someone changed the row in between (Order then sends the request again). "
                "Off: a plain write, which replaces whatever is there.",
            ),
            _t(
                "commutative_updates",
                "Release adds the units back",
                "pattern",
                True,
                "On: the compensation adds the order's units to the count as it is now ('add 3'). Off: it "
                "sets the count back to the value saved when the units were reserved "
                f"('set it back to {_ISOLATION.PLAYGROUND_STOCK['lamp']}').",
            ),
            _t(
                "concurrent_orders",
                "Bob orders while Alice's reserve is being handled",
                "fault",
                True,
                f"Bob's order for two lamps reaches Inventory {_ISOLATION.PLAYGROUND_ORDERS[1]['at']} ms "
                "after Alice's, while hers is still being "
                f"handled ({_ISOLATION.WORK_MS} ms from read to commit): both read the same row. Off: it "
                f"arrives {_ISOLATION.PLAYGROUND_LATER_MS} ms later.",
            ),
            _t(
                "payment_fails",
                "Alice's payment is declined",
                "fault",
                True,
                "Alice's card is declined, so her saga compensates: Inventory releases her three lamps.",
            ),
            _t(
                "delivery",
                "Lamps are delivered mid-saga",
                "fault",
                True,
                f"The warehouse adds {_ISOLATION.PLAYGROUND_DELIVERY['qty']} lamps to the count at "
                f"t={_ISOLATION.PLAYGROUND_DELIVERY['at']} ms, "
                "between Alice's reservation and its release.",
            ),
        ],
    },
}

_DIR = Path(__file__).resolve().parent / "scenarios"


# A playground file (sandbox/scenarios/<name>/playground.py) is a valid module on its own: it
# starts with one line per flag, ``NAME = True`` or ``NAME = False``, giving its default, and
# nothing else before them. The loader replaces exactly those leading lines with the values the
# toggles chose (same names, same order) and leaves the rest of the file as written, so the line
# numbers an error message quotes are the file's. A file whose leading flags are not the ones the
# builder sets is refused, so a renamed flag cannot silently keep its default.
_FLAG_LINE = re.compile(r"([A-Z][A-Z0-9_]*) = (True|False)\n")


def _template(scenario: str, **flags: bool) -> str:
    """The playground source of a scenario with its leading flag defaults set to ``flags``."""
    text = (_DIR / scenario / "playground.py").read_text()
    lines = text.splitlines(keepends=True)
    names = []
    for line in lines:
        match = _FLAG_LINE.fullmatch(line)
        if not match:
            break
        names.append(match[1])
    if sorted(names) != sorted(flags):
        raise ValueError(
            f"{scenario}/playground.py starts with the flags {names}, the loader sets {sorted(flags)}"
        )
    head = "".join(f"{name} = {bool(flags[name])!r}\n" for name in names)
    return head + "".join(lines[len(names) :])


def _rule(kind: str, match: str, **extra: Any) -> Rule:
    return {"kind": kind, "match": match, **extra}


def _order_saga(t: dict[str, bool]) -> Built:
    flags = {"OUTBOX": t["outbox"], "DEDUP": t["dedup"]}
    if not t["orchestration"]:  # the choreography's timeout flags: see the late-payment playground
        flags.update(ORDER_TIMEOUT=False, REFUND_LATE=True)
    rules: list[Rule] = []
    if t["payment_fails"]:
        rules.append(_rule("declined", "payment:o1"))
    if t["orchestration"]:
        if t["duplicate_delivery"]:
            rules.append(_rule("reply_lost", "cmd-1#1>payment.capture"))
        if t["crash_after_commit"] or t["relay_crash"]:
            # Crash after the last commit (finish) and before the outcome event is published.
            rules.append(_rule("crash", "order.handle_place_order:cmd-1#", at=4))
        return "order_saga_orchestration", _template("order_saga_orchestration", **flags), rules
    if t["duplicate_delivery"]:
        rules.append(_rule("duplicate", "payment.on_inventory_reserved:"))
    if t["crash_after_commit"]:
        rules.append(_rule("crash", "inventory.on_order_created:", at=1))
    if t["relay_crash"]:
        if t["outbox"]:
            rules.append(_rule("relay_crash", "inventory:"))
        else:
            rules.append(_rule("crash", "order.place_order:", at=1))
    return "order_saga_choreography", _template("order_saga_choreography", **flags), rules


def _travel(t: dict[str, bool]) -> Built:
    flags = {"COMPENSATE": t["compensate"], "IDEMPOTENT_COMPENSATION": t["idempotent_compensation"]}
    rules: list[Rule] = []
    if t["hotel_fails"]:
        rules.append(_rule("unavailable", "hotel:t1"))
    if t["orchestrator_crash"]:
        rules.append(_rule("crash", "booking.book_trip:cmd-1#", at=1))
    if t["cancel_reply_lost"]:
        rules.append(_rule("reply_lost", ">flight.cancel"))
    return "travel_booking", _template("travel_booking", **flags), rules


def _charge(t: dict[str, bool]) -> Built:
    rules: list[Rule] = []
    if t["reply_lost"]:
        rules.append(_rule("reply_lost", "client:pay-1#1"))
    if t["key_reuse"]:
        rules.append(_rule("key_reuse", "client:pay-1"))
    return (
        "idempotent_charge",
        _template("idempotent_charge", USE_KEY=t["idempotency_key"]),
        rules,
    )


def _twopc(t: dict[str, bool]) -> Built:
    rules: list[Rule] = []
    if t["coordinator_crash"]:
        rules += [
            _rule("crash", "coordinator.transfer:cmd-1#1", at=2),
            _rule("coordinator_down", "coordinator"),
        ]
    if t["vote_no"]:
        rules.append(_rule("vote_no", "bank_b:"))  # the first transfer
    return "two_phase_commit", scenarios.get("two_phase_commit").reference_source, rules


def _retry(t: dict[str, bool]) -> Built:
    flags = {"BACKOFF": t["backoff"], "JITTER": t["jitter"], "CAP": t["cap"]}
    rules = [_rule("outage", "inventory:long")] if t["long_outage"] else []
    return "retry_storm", _template("retry_storm", **flags), rules


def _shipping(t: dict[str, bool]) -> Built:
    sc = scenarios.get("shipping_down")
    source = sc.reference_source if t["authorize_first"] else sc.variants["capture_first"][0]
    return "shipping_down", source, [_rule("outage", "shipping:long")] if t["long_outage"] else []


def _poison(t: dict[str, bool]) -> Built:
    rules: list[Rule] = []
    if t["poison"]:
        rules.append(_rule("malformed", "producer:msg-2"))
    if t["fx_timeout"]:
        rules.append(_rule("request_lost", "cmd-1#1>fx.rate"))
    return "poison_message", _template("poison_message", DLQ=t["dlq"]), rules


def _breaker(t: dict[str, bool]) -> Built:
    flags = {"BREAKER": t["breaker"], "TRIAL_LIMIT": t["trial_limit"], "WINDOW": t["window"]}
    rules = [_rule("outage", "inventory:long")] if t["stays_down"] else []
    return "circuit_breaker", _template("circuit_breaker", **flags), rules


def _relay(t: dict[str, bool]) -> tuple[str, str, list[dict[str, Any]]]:
    rules: list[dict[str, Any]] = []
    if t["relay_crash"]:
        # relay-1's first tick does [claim,] publish, mark, ...: it dies just before that mark.
        rules.append(_rule("crash", "relay-1.relay_tick:", at=2 if t["claim"] else 1))
    flags = {"TWO_RELAYS": t["two_relays"], "CLAIM": t["claim"]}
    return "outbox_relay", _template("outbox_relay", **flags), rules


def _late_payment(t: dict[str, bool]) -> Built:
    flags = {
        "OUTBOX": True,
        "DEDUP": True,
        "ORDER_TIMEOUT": t["order_timeout"],
        "REFUND_LATE": t["refund_late_success"],
    }
    rules = [_rule("late_answer", ">order.on_payment_succeeded")] if t["late_payment"] else []
    return "order_saga_choreography", _template("order_saga_choreography", **flags), rules


def _expiring_holds(t: dict[str, bool]) -> Built:
    rules: list[Rule] = []
    if not t["holds_expire"]:
        rules.append(_rule("holds_never_expire", "participants"))  # a setting the world reads
    if t["payment_down"]:
        rules.append(_rule("outage", "payment:long"))
    if t["coordinator_down"]:
        # The first delivery dies before its third effect (after the insert and the stock hold).
        rules += [
            _rule("crash", "order.checkout:cmd-1#1", at=2),
            _rule("coordinator_down", "order"),
        ]
    source = _template("tcc_holds", DEADLINE_WITHIN_HOLD=t["deadline_within_hold"])
    return "tcc_holds", source, rules


def _unknown_outcome(t: dict[str, bool]) -> Built:
    flags = {"TOMBSTONE": t["tombstone"], "RETRY_CLOSE": t["retry_compensation"]}
    rules: list[Rule] = []
    if t["payment_down"]:
        rules.append(_rule("outage", "payment:long"))
    if t["slow_capture"]:
        rules.append(_rule("late_reply", "cmd-1#1>payment.capture"))
    return "unknown_outcome", _template("unknown_outcome", **flags), rules


def _saga_isolation(t: dict[str, bool]) -> Built:
    flags = {
        "SEMANTIC_LOCK": t["semantic_lock"],
        "CONDITIONAL_UPDATE": t["conditional_update"],
        "COMMUTATIVE": t["commutative_updates"],
    }
    rules: list[Rule] = []
    if t["concurrent_orders"]:
        rules.append(_rule("concurrent", "playground:o2"))
    if t["payment_fails"]:
        rules.append(_rule("declined", "playground:o1"))
    if t["delivery"]:
        rules.append(_rule("delivery", "playground:d1"))
    return "saga_isolation", _template("saga_isolation", **flags), rules


_BUILDERS: dict[str, Callable[[dict[str, bool]], Built]] = {
    "order-saga": _order_saga,
    "travel-booking": _travel,
    "idempotent-charge": _charge,
    "two-phase-commit": _twopc,
    "retry-storm": _retry,
    "shipping-down": _shipping,
    "poison-message": _poison,
    "circuit-breaker": _breaker,
    "outbox-relay": _relay,
    "late-payment": _late_payment,
    "expiring-holds": _expiring_holds,
    "unknown-outcome": _unknown_outcome,
    "saga-isolation": _saga_isolation,
}


def resolve(key: str, toggles: dict[str, Any] | None = None) -> Built:
    """(scenario name, trusted source, fault rules) for these toggles."""
    if key not in PLAYGROUNDS:
        raise KeyError(f"unknown playground {key!r}")
    given = toggles or {}
    values = {
        t["name"]: bool(given.get(t["name"], t["default"])) for t in PLAYGROUNDS[key]["toggles"]
    }
    return _BUILDERS[key](values)


def run(key: str, toggles: dict[str, Any] | None = None, seed: Any = 0) -> PlaygroundReport:
    """``seed`` may come straight from a request: anything that is not an int becomes 0."""
    scenario, source, rules = resolve(key, toggles)
    sc = scenarios.get(scenario)
    try:
        seed = int(seed) % 2**31
    except (TypeError, ValueError):
        seed = 0
    plan = FaultPlan("rules", seed, rules=rules, horizon=sc.fault_horizon)
    report = simulate(scenario, source, plan, seed=seed, runner_factory=InProcessRunner)
    counterexample = report.get("counterexample")
    return {
        **report,
        "playground": key,
        "trace": counterexample["trace"] if counterexample else [],
    }
