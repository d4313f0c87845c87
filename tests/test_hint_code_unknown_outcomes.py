"""The unknown-outcome exercise's hints and statement snippets with code get exactly the verdict their
text promises (same convention as tests/test_hint_code.py): the modules below are the starter with the
hints applied, in the words of the hints."""

from __future__ import annotations

from tests.hint_promises import ILLUSTRATION, PROSE, checks_for

SLUG = "unknown-payment-outcome"

RETRY_THEN_CANCEL = """
from saga_api import DuplicateKey, RetryLater, Timeout


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "placed_at": ctx.now})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return
    try:
        answer = ctx.call("payment", "capture", order, idempotency_key=f"capture-{oid}",
                          correlation_id=command.correlation_id)
    except Timeout:
        if ctx.now - row["placed_at"] < 3000:
            raise RetryLater(300)
        answer = {"status": "gave up"}
    with ctx.db.transaction() as tx:
        tx.update("orders", oid,
                  status="CONFIRMED" if answer["status"] == "captured" else "CANCELLED")
"""

ALL_HINTS = """
from saga_api import DuplicateKey, RetryLater, Timeout


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING", "placed_at": ctx.now})
    except DuplicateKey:
        pass
    row = ctx.db.get("orders", oid)
    if row["status"] == "CANCELLED" and not row.get("payment_closed", True):
        close(command, ctx)
        return
    if row["status"] != "PENDING":
        return
    try:
        answer = ctx.call("payment", "capture", order, idempotency_key=f"capture-{oid}",
                          correlation_id=command.correlation_id)
    except Timeout:
        if ctx.now - row["placed_at"] < 3000:
            raise RetryLater(300)
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, status="CANCELLED", payment_closed=False)
        close(command, ctx)
        return
    with ctx.db.transaction() as tx:
        tx.update("orders", oid,
                  status="CONFIRMED" if answer["status"] == "captured" else "CANCELLED")


def close(command, ctx):
    oid = command.data["order_id"]
    try:
        ctx.call("payment", "cancel", command.data, idempotency_key=f"cancel-{oid}",
                 correlation_id=command.correlation_id)
    except Timeout:
        raise RetryLater(300)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, payment_closed=True)
"""

SNIPPETS = {
    "statement:0": ("def checkout(command, ctx):", ILLUSTRATION),
    "statement:1": ("raise RetryLater(300)", ILLUSTRATION),
    "hint:0": ("does not mean the customer was not charged", PROSE),
    "hint:1": ("On its own this still fails", [(RETRY_THEN_CANCEL, "cancelled_is_clean")]),
    "hint:2": ("call payment.cancel with its own key", [(ALL_HINTS, "pass")]),
}

(
    test_every_snippet_and_hint_is_declared_with_what_it_promises,
    test_statement_snippets_are_valid_python,
    test_hint_gets_the_verdict_its_text_promises,
) = checks_for(SLUG, SNIPPETS)
