"""The saga exercises' hints and statement snippets with code get exactly the verdict their text promises.

Same convention as tests/test_hint_code.py: for each exercise, every ```python block of its statement
and every hint, with a phrase that must occur in it and what it promises: ``PROSE`` (a hint without
code), ``ILLUSTRATION`` (an API example, only valid Python), or a list of (complete learner module the
text describes, ``"pass"`` or the invariant it says breaks). The modules below are the exercise's
starter with the hints applied, in the words of the hints.
"""

from __future__ import annotations

import re
import textwrap

import pytest

import sandbox
from exercises.content_loader import CONTENT_DIR, read_exercise

PROSE = "prose"
ILLUSTRATION = "illustration"
SCHEDULES = 200

# -- order-saga-choreography: the starter with hint 2, then with hints 2 and 3 ----------------------
CHOREO_STARTER_HANDLERS = """
def on_order_created(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        %(inbox)s
        stock = tx.get("stock", order["sku"])
        if stock["available"] >= order["qty"]:
            tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
            tx.insert("reservations", %(reservation_key)s,
                      {"order_id": order["order_id"], "sku": order["sku"], "qty": order["qty"],
                       "status": "RESERVED"})
            tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)


def on_inventory_reserved(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        %(inbox)s
        account = tx.get("accounts", order["customer"])
        if account["balance"] >= order["amount"]:
            tx.update("accounts", order["customer"], balance=account["balance"] - order["amount"])
            tx.insert("payments", %(payment_key)s,
                      {"order_id": order["order_id"], "amount": order["amount"], "status": "CAPTURED"})
            tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)


def on_inventory_failed(event, ctx):
    with ctx.db.transaction() as tx:
        %(inbox)s
        tx.update("orders", event.data["order_id"], status="CANCELLED")


def on_payment_succeeded(event, ctx):
    with ctx.db.transaction() as tx:
        %(inbox)s
        %(late)s
        tx.update("orders", event.data["order_id"], status="CONFIRMED")


def on_payment_failed(event, ctx):
    with ctx.db.transaction() as tx:
        %(inbox)s
        tx.update("orders", event.data["order_id"], status="CANCELLED")
        tx.outbox("ReleaseStock", event.data, correlation_id=event.correlation_id)


def on_release_stock(event, ctx):
    with ctx.db.transaction() as tx:
        for key, r in tx.find("reservations", order_id=event.data["order_id"]):
            if %(release_guard)s:
                stock = tx.get("stock", r["sku"])
                tx.update("stock", r["sku"], available=stock["available"] + r["qty"])
                tx.update("reservations", key, status="RELEASED")
"""
INBOX = """if tx.get("inbox", event.id):
            return
        tx.insert("inbox", event.id, {"type": event.type})"""
LATE_SUCCESS = """if tx.get("orders", event.data["order_id"])["status"] == "CANCELLED":
            tx.outbox("RefundPayment", event.data, correlation_id=event.correlation_id)
            tx.outbox("ReleaseStock", event.data, correlation_id=event.correlation_id)
            return"""
CHOREO_PLACE_ORDER_CATCH = """
from saga_api import DuplicateKey


def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass
"""
CHOREO_ALL_HINTS = CHOREO_PLACE_ORDER_CATCH + CHOREO_STARTER_HANDLERS % {
    "inbox": INBOX,
    "late": LATE_SUCCESS,
    "reservation_key": 'order["order_id"]',
    "payment_key": 'order["order_id"]',
    "release_guard": 'r["status"] == "RESERVED"',
}
CHOREO_RELEASE_UNGUARDED = CHOREO_PLACE_ORDER_CATCH + CHOREO_STARTER_HANDLERS % {
    "inbox": INBOX,
    "late": LATE_SUCCESS,
    "reservation_key": 'order["order_id"]',
    "payment_key": 'order["order_id"]',
    "release_guard": "True",
}

# -- choreography-vs-orchestration: the exercise's starter with hint 2, then with hints 2 and 3 -----
ORCH_KEYS_ONLY = """
from saga_api import RetryLater, Timeout


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    with ctx.db.transaction() as tx:
        tx.insert("orders", oid, {**order, "status": "PENDING"})

    def call(service, op):
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=command.correlation_id)

    try:
        reserved = call("inventory", "reserve")
        if reserved["status"] != "reserved":
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, status="CANCELLED")
            return
        captured = call("payment", "capture")
    except Timeout:
        raise RetryLater(300)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status="CONFIRMED" if captured["status"] == "captured" else "CANCELLED")
"""
ORCH_ALL_HINTS = """
from saga_api import DuplicateKey, RetryLater, Timeout


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return

    def call(service, op):
        answer = ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=command.correlation_id)
        if answer["status"] == "busy":
            raise RetryLater(300)
        return answer

    try:
        reserved = call("inventory", "reserve")
        if reserved["status"] != "reserved":
            return finish(ctx, oid, "CANCELLED", command.correlation_id)
        captured = call("payment", "capture")
        if captured["status"] != "captured":
            call("inventory", "release")
            return finish(ctx, oid, "CANCELLED", command.correlation_id)
    except Timeout:
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", command.correlation_id)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("OrderConfirmed" if status == "CONFIRMED" else "OrderCancelled", {"order_id": oid},
                  correlation_id=corr)
"""

# -- travel-booking-orchestration: the starter with hint 2, then with hints 2 and 3 ----------------
TRAVEL_WITH_COMPENSATION = """
from saga_api import DuplicateKey, Timeout, RetryLater

LEGS = ["flight", "hotel", "car"]


def book_trip(command, ctx):
    trip = command.data
    tid = trip["trip_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("trips", tid, {"status": "PENDING"})
    except DuplicateKey:
        pass
    if ctx.db.get("trips", tid)["status"] != "PENDING":
        return
    try:
        booked = []
        for leg in LEGS:
            result = ctx.call(leg, "book", trip, idempotency_key=f"book-{leg}-{tid}", correlation_id=corr)
            if result["status"] == "busy":
                raise RetryLater(300)
            if result["status"] == "unavailable":
                for done in reversed(booked):
                    ctx.call(done, "cancel", trip, %s correlation_id=corr)
                finish(ctx, tid, "CANCELLED", corr)
                return
            booked.append(leg)
    except Timeout:
        raise RetryLater(300)
    finish(ctx, tid, "CONFIRMED", corr)


def finish(ctx, tid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("trips", tid, status=status)
        if status == "CONFIRMED":
            tx.outbox("BookingConfirmed", {"trip_id": tid}, correlation_id=corr)
"""

SNIPPETS = {
    "order-saga-choreography": {
        "statement:0": ('tx.outbox("PaymentSucceeded", event.data', ILLUSTRATION),
        "hint:0": ("Start with the failure paths", PROSE),
        "hint:1": (
            "give the units back only if the reservation is still RESERVED",
            [(CHOREO_RELEASE_UNGUARDED, "conservation")],
        ),
        "hint:2": ('tx.get("inbox", event.id)', [(CHOREO_ALL_HINTS, "pass")]),
    },
    "choreography-vs-orchestration": {
        "statement:0": ("def handle_place_order(command, ctx):", ILLUSTRATION),
        "statement:1": ('idempotency_key="reserve-" + order["order_id"]', ILLUSTRATION),
        "hint:0": ("A Timeout does not mean the call failed", PROSE),
        "hint:1": (
            "a busy answer still cancels the order",
            [(ORCH_KEYS_ONLY, "cancelled_for_a_reason")],
        ),
        "hint:2": ('treat a "busy" answer like a Timeout', [(ORCH_ALL_HINTS, "pass")]),
    },
    "travel-booking-orchestration": {
        "statement:0": ("def book_trip(command, ctx):", ILLUSTRATION),
        "statement:1": ('idempotency_key="book-hotel-" + trip["trip_id"]', ILLUSTRATION),
        "hint:0": ("What does the orchestrator need to remember", PROSE),
        "hint:1": (
            "Without a key on the cancel this still fails",
            [(TRAVEL_WITH_COMPENSATION % "", "conservation")],
        ),
        "hint:2": (
            'idempotency_key=f"cancel-{leg}-{trip_id}"',
            [(TRAVEL_WITH_COMPENSATION % 'idempotency_key=f"cancel-{done}-{tid}",', "pass")],
        ),
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
def test_every_saga_snippet_and_hint_is_declared_with_what_it_promises(slug):
    texts = _texts(SPECS[slug])
    assert set(texts) == set(SNIPPETS[slug]), "declare every statement block and hint in SNIPPETS"
    for where, (phrase, _) in SNIPPETS[slug].items():
        assert phrase in texts[where], (where, phrase)


@pytest.mark.parametrize("slug", sorted(SNIPPETS))
def test_saga_statement_snippets_are_valid_python(slug):
    for where, text in _texts(SPECS[slug]).items():
        if where.startswith("statement:"):
            try:
                compile(text, where, "exec")
            except SyntaxError:  # a fragment of a function body: valid inside one
                compile("def _():\n" + textwrap.indent(text, "    "), where, "exec")


@pytest.mark.parametrize(
    "slug,where,n,program,expected", GRADED, ids=[f"{g[0]}-{g[1]}-{g[2]}" for g in GRADED]
)
def test_saga_hint_gets_the_verdict_its_text_promises(slug, where, n, program, expected):
    spec = SPECS[slug]
    report = sandbox.grade(
        spec.scenario, textwrap.dedent(program), seed=0, random_schedules=SCHEDULES
    )
    broken = [v["name"] for v in report["violations"]]
    if expected == "pass":
        assert report["status"] == "passed", report["message"]
    else:
        assert report["status"] == "failed", report["message"]
        assert expected in broken, (broken, report["message"])
