"""A hint or statement snippet with code passes or fails exactly as its text says.

``SNIPPETS`` lists, for each exercise below, every Python block of its statement and every hint:
a phrase that must appear in that text (so the entry follows the text it describes), and what the
text promises. ``PROSE`` is a hint without code; ``ILLUSTRATION`` is an API or signature example
that is not a solution (it must only be valid Python); otherwise each pair is the complete learner
module the text describes and its verdict: ``"pass"`` or the invariant it says breaks (a tuple when
the text names more than one way to fail). The convention
is described in exercises/content/README.md.
"""

from __future__ import annotations

import re
import textwrap

import pytest

import sandbox
from exercises.content_loader import CONTENT_DIR, read_exercise
from sandbox import scenarios

PROSE = "prose"
ILLUSTRATION = "illustration"
SCHEDULES = 200

# -- retry-backoff-jitter ---------------------------------------------------------------------------
RETRY_FULL_JITTER_NO_CAP = """
def retry_delay(attempt, rand):
    ceiling = min(3000, 100 * 2 ** attempt)
    return rand * ceiling
"""
RETRY_FULL_JITTER = """
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    if attempt >= MAX_ATTEMPTS:
        return None
    ceiling = min(3000, 100 * 2 ** attempt)
    return rand * ceiling
"""

# -- shipping-down-challenge ------------------------------------------------------------------------
SHIPPING_HOLD_NO_DEADLINE = """
from saga_api import DuplicateKey, Timeout, RetryLater


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return
    key = lambda op: op + ":" + oid
    try:
        if ctx.call("payment", "authorize", order, idempotency_key=key("authorize"),
                    correlation_id=corr)["status"] != "authorized":
            status = "CANCELLED"
        elif ctx.call("shipping", "schedule", order, idempotency_key=key("schedule"),
                      correlation_id=corr)["status"] == "scheduled":
            ctx.call("payment", "capture", order, idempotency_key=key("capture"), correlation_id=corr)
            status = "CONFIRMED"
        else:                                       # refused
            ctx.call("payment", "void", order, idempotency_key=key("void"), correlation_id=corr)
            status = "CANCELLED"
    except Timeout:
        raise RetryLater(1000)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
"""
SHIPPING_WITH_DEADLINE = """
from saga_api import DuplicateKey, Timeout, RetryLater


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {"status": "PENDING", "since": ctx.now, "outcome": None})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return
    key = lambda op: op + ":" + oid
    try:
        outcome = row["outcome"]
        if outcome is None:
            if ctx.call("payment", "authorize", order, idempotency_key=key("authorize"),
                        correlation_id=corr)["status"] != "authorized":
                return finish(ctx, oid, "CANCELLED", corr)
            try:
                answer = ctx.call("shipping", "schedule", order, idempotency_key=key("schedule"),
                                  correlation_id=corr)["status"]
            except Timeout:
                if ctx.now - row['since'] < 8000:
                    raise RetryLater(1000)
                answer = "timeout"
            outcome = "ship" if answer == "scheduled" else "give up"
            with ctx.db.transaction() as tx:
                tx.update('orders', oid, outcome=outcome)
        if outcome == "ship":
            ctx.call("payment", "capture", order, idempotency_key=key("capture"), correlation_id=corr)
            return finish(ctx, oid, "CONFIRMED", corr)
        ctx.call("payment", "void", order, idempotency_key=key("void"), correlation_id=corr)
        finish(ctx, oid, "CANCELLED", corr)
    except Timeout:
        raise RetryLater(300)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if status == "CANCELLED":
            tx.outbox('CancelShipment', {'order_id': oid}, correlation_id=corr)
"""

# The same design without "decide once": the outcome is recomputed on every delivery (hint 3 says why it fails).
SHIPPING_DECIDES_TWICE = scenarios.get("shipping_down").variants["decides_twice"][0]

# -- design-a-saga ----------------------------------------------------------------------------------
SAGA_WITH_COMPENSATIONS = """
from saga_api import Step


def saga():
    return [
        Step("create", "order.create", compensation="order.cancel"),
        Step("reserve", "inventory.reserve", compensation="inventory.release"),
        Step("capture", "payment.capture", compensation="payment.refund"),
        Step("confirm", "order.confirm"),
    ]

def messages():
    return {
        "create": {"key": "create-{order_id}", "on_success": "OrderCreated", "on_compensation": "OrderCancelled"},
        "reserve": {
            "key": "reserve-{order_id}",
            "on_success": "StockReserved",
            "on_failure": "StockUnavailable",
            "on_compensation": "StockReleased",
        },
        "capture": {
            "key": "capture-{order_id}",
            "on_success": "PaymentCaptured",
            "on_failure": "PaymentDeclined",
            "on_compensation": "PaymentRefunded",
        },
        "confirm": {"key": "confirm-{order_id}", "on_success": "OrderConfirmed", "on_compensation": "OrderCancelled"},
    }
"""
SAGA_CONFIRMS_FIRST = """
from saga_api import Step


def saga():
    return [
        Step("create", "order.create", compensation="order.cancel"),
        Step("confirm", "order.confirm", compensation="order.cancel"),
        Step("reserve", "inventory.reserve", compensation="inventory.release"),
        Step("capture", "payment.capture", compensation="payment.refund"),
    ]

def messages():
    return {
        "create": {"key": "create-{order_id}", "on_success": "OrderCreated", "on_compensation": "OrderCancelled"},
        "reserve": {
            "key": "reserve-{order_id}",
            "on_success": "StockReserved",
            "on_failure": "StockUnavailable",
            "on_compensation": "StockReleased",
        },
        "capture": {
            "key": "capture-{order_id}",
            "on_success": "PaymentCaptured",
            "on_failure": "PaymentDeclined",
            "on_compensation": "PaymentRefunded",
        },
        "confirm": {"key": "confirm-{order_id}", "on_success": "OrderConfirmed", "on_compensation": "OrderCancelled"},
    }
"""

# -- two-phase-commit -------------------------------------------------------------------------------
TWOPC_LOGGED_STARTER = """
PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    logged = ctx.db.get('decisions', xid)
    if logged:
        decision = logged["decision"]
    else:
        votes = [ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"] for p in PARTICIPANTS]
        decision = "commit" if all(v == "yes" for v in votes) else "abort"
        with ctx.db.transaction() as tx:
            tx.insert('decisions', xid, {'decision': decision})
    for p in PARTICIPANTS:
        ctx.call(p, decision, command.data, correlation_id=corr)
"""
TWOPC_PHASE_TWO = """
from saga_api import Timeout, RetryLater

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    logged = ctx.db.get("decisions", xid)
    if logged:
        decision = logged["decision"]
    else:
        votes = []
        for p in PARTICIPANTS:
            try:
                votes.append(ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"])
            except Timeout:
                votes.append("no")
        decision = "commit" if all(v == "yes" for v in votes) else "abort"
        with ctx.db.transaction() as tx:
            tx.insert("decisions", xid, {"decision": decision})
    for p in PARTICIPANTS:
        try:
            ctx.call(p, decision, command.data, correlation_id=corr)
        except Timeout:
            %s
"""

# -- chaos-test: the rules hint 2 lists are the scenario's reference checks; hint 1's false alarms are
# two of its variants --------------------------------------------------------------------------------
CHAOS = {name: source for name, (source, _) in scenarios.get("chaos_checks").variants.items()}
CHAOS_HINT_RULES = CHAOS["reference"].replace(
    'FAULTS = "crash, duplicate, delay, relay_crash, out_of_stock, declined, late_answer"',
    'FAULTS = "crash, duplicate, delay, relay_crash, late_answer"',
)
assert CHAOS_HINT_RULES != CHAOS["reference"]

# -- circuit-breaker --------------------------------------------------------------------------------
BREAKER_OPENS_ONLY = """
def allow_request(request, ctx):
    row = ctx.db.get("breaker", "inventory") or {"state": "closed", "outcomes": []}
    return row["state"] != "open"


def record_result(result, ctx):
    row = ctx.db.get("breaker", "inventory") or {"state": "closed", "outcomes": []}
    if row["state"] != "closed":
        return
    outcomes = (row['outcomes'] + [result.data['ok']])[-10:]
    if len(outcomes) >= 5 and outcomes.count(False) * 100 >= 50 * len(outcomes):
        row = {'state': 'open', 'opened_at': ctx.now}
    else:
        row["outcomes"] = outcomes
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", row)
"""
BREAKER_COMPLETE = """
def _save(ctx, row):
    with ctx.db.transaction() as tx:
        tx.put("breaker", "inventory", row)


def allow_request(request, ctx):
    row = ctx.db.get("breaker", "inventory") or {"state": "closed", "outcomes": []}
    if row["state"] == "open":
        if ctx.now - row['opened_at'] < 1500:
            return False
        row = {'state': 'half_open', 'trials': 0, 'passed': 0}
    if row["state"] == "half_open":
        if row["trials"] >= 2:
            return False
        row["trials"] += 1
        _save(ctx, row)
    return True


def record_result(result, ctx):
    row = ctx.db.get("breaker", "inventory") or {"state": "closed", "outcomes": []}
    if row["state"] == "open":
        return
    if row["state"] == "half_open":
        if not result.data["ok"]:
            row = {"state": "open", "opened_at": ctx.now}
        else:
            row["passed"] += 1
            if row["passed"] >= 2:
                row = {"state": "closed", "outcomes": []}
    else:
        outcomes = (row['outcomes'] + [result.data['ok']])[-10:]
        if len(outcomes) >= 5 and outcomes.count(False) * 100 >= 50 * len(outcomes):
            row = {'state': 'open', 'opened_at': ctx.now}
        else:
            row["outcomes"] = outcomes
    _save(ctx, row)
"""

SNIPPETS = {
    "retry-backoff-jitter": {
        "statement:0": ("def retry_delay(attempt, rand):", ILLUSTRATION),
        "statement:1": ("return 300 * attempt", [("SNIPPET", "retries_bounded_and_spread")]),
        "hint:0": ("Two things need fixing", PROSE),
        "hint:1": (
            "return rand * ceiling",
            [(RETRY_FULL_JITTER_NO_CAP, "retries_bounded_and_spread")],
        ),
        "hint:2": (
            "if attempt >= MAX_ATTEMPTS: return None, with MAX_ATTEMPTS = 10",
            [(RETRY_FULL_JITTER, "pass")],
        ),
    },
    "shipping-down-challenge": {
        "statement:0": ("def checkout(command, ctx):", ILLUSTRATION),
        "statement:1": ('ctx.call("payment", "authorize", order', ILLUSTRATION),
        "hint:0": ("make sure of the money without taking it yet", PROSE),
        "hint:1": ("on its own it still fails", [(SHIPPING_HOLD_NO_DEADLINE, "orders_resolve")]),
        "hint:2": (
            "if ctx.now - row['since'] < 8000: raise RetryLater(1000)",
            [
                (SHIPPING_WITH_DEADLINE, "pass"),
                (SHIPPING_DECIDES_TWICE, ("cancelled_is_clean", "confirmed_is_complete")),
            ],
        ),
    },
    "design-a-saga": {
        "statement:0": (
            'Step("create order", "order.create", compensation="order.cancel")',
            ILLUSTRATION,
        ),
        "hint:0": ("Walk through a declined card", PROSE),
        "hint:1": ("inventory.reserve by inventory.release", [(SAGA_WITH_COMPENSATIONS, "pass")]),
        "statement:1": ('"key": "reserve-{order_id}"', ILLUSTRATION),
        "hint:2": ("A saga that confirms first", [(SAGA_CONFIRMS_FIRST, "saga_compensates")]),
        "hint:3": ("Keys and events", PROSE),
    },
    "two-phase-commit": {
        "statement:0": ("def transfer(command, ctx):", ILLUSTRATION),
        "statement:1": ('"transfer_id": "t-2c91e4"', ILLUSTRATION),
        "statement:2": ('tx.insert("decisions"', ILLUSTRATION),
        "hint:0": ("Walk through a crash", PROSE),
        "hint:1": ("The starter with just this change passes", [(TWOPC_LOGGED_STARTER, "pass")]),
        "hint:2": (
            "raise RetryLater(300) instead",
            [
                (TWOPC_PHASE_TWO % "pass", "twopc_agreement"),
                (TWOPC_PHASE_TWO % "raise RetryLater(300)", "pass"),
            ],
        ),
    },
    "chaos-test": {
        "statement:0": ("def check(run):", ILLUSTRATION),
        "hint:0": ("Start from what the saga promises", PROSE),
        "hint:1": (
            "rejects it too",
            [
                (CHAOS["all_confirmed"], "no_false_alarm"),
                (CHAOS["no_duplicate_events"], "no_false_alarm"),
            ],
        ),
        "hint:2": (
            'FAULTS = "crash, duplicate, delay, relay_crash, late_answer"',
            [(CHAOS_HINT_RULES, "pass")],
        ),
    },
    "circuit-breaker": {
        "statement:0": ("def allow_request(request, ctx):", ILLUSTRATION),
        "statement:1": ('tx.put("breaker", "inventory", row)', ILLUSTRATION),
        "hint:0": ("Draw the three states", PROSE),
        "hint:1": (
            "outcomes.count(False) * 100 >= 50 * len(outcomes)",
            [(BREAKER_OPENS_ONLY, "traffic_returns_after_recovery")],
        ),
        "hint:2": ("ctx.now - row['opened_at'] >= 1500", [(BREAKER_COMPLETE, "pass")]),
    },
}

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _texts(spec) -> dict[str, str]:
    texts = {f"statement:{i}": block for i, block in enumerate(_BLOCK.findall(spec.statement))}
    texts.update({f"hint:{i}": hint for i, hint in enumerate(spec.hints)})
    return texts


SPECS = {slug: read_exercise(CONTENT_DIR / slug) for slug in SNIPPETS}
GRADED = [
    (slug, where, n, program, expected)
    for slug, entries in SNIPPETS.items()
    for where, (_, promise) in entries.items()
    if isinstance(promise, list)
    for n, (program, expected) in enumerate(promise)
]


@pytest.mark.parametrize("slug", sorted(SNIPPETS))
def test_every_snippet_and_hint_is_declared_with_what_it_promises(slug):
    texts = _texts(SPECS[slug])
    assert set(texts) == set(SNIPPETS[slug]), "declare every statement block and hint in SNIPPETS"
    for where, (phrase, _) in SNIPPETS[slug].items():
        assert phrase in texts[where], (where, phrase)


@pytest.mark.parametrize("slug", sorted(SNIPPETS))
def test_illustrations_and_statement_snippets_are_valid_python(slug):
    for where, text in _texts(SPECS[slug]).items():
        if where.startswith("statement:"):
            try:
                compile(text, where, "exec")
            except SyntaxError:  # a fragment of a function body: valid inside one
                compile("def _():\n" + textwrap.indent(text, "    "), where, "exec")


@pytest.mark.parametrize(
    "slug,where,n,program,expected", GRADED, ids=[f"{g[0]}-{g[1]}-{g[2]}" for g in GRADED]
)
def test_snippet_gets_the_verdict_its_text_promises(slug, where, n, program, expected):
    spec = SPECS[slug]
    source = _texts(spec)[where] if program == "SNIPPET" else textwrap.dedent(program)
    report = sandbox.grade(spec.scenario, source, seed=0, random_schedules=SCHEDULES)
    broken = [v["name"] for v in report["violations"]]
    if expected == "pass":
        assert report["status"] == "passed", report["message"]
    else:  # the invariant it says breaks (or one of them, when the text names several)
        assert report["status"] == "failed", report["message"]
        assert set(broken) & ({expected} if isinstance(expected, str) else set(expected)), (
            broken,
            report["message"],
        )
