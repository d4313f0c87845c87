"""The saga-isolation exercise's hints and statement snippets with code get exactly the verdict their
text promises (same convention as tests/test_hint_code.py): the modules below are the starter with the
hints applied, in the words of the hints."""

from __future__ import annotations

from tests.hint_promises import ILLUSTRATION, PROSE, checks_for

SLUG = "saga-isolation"

STARTER_CONFIRM_AND_RELEASE = """

def confirm(request, ctx):
    with ctx.db.transaction() as tx:
        tx.update("holds", request.data["order_id"], status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    order = request.data
    stock = ctx.db.get("stock", order["sku"])
    with ctx.db.transaction() as tx:
        tx.update("stock", order["sku"], available=stock["available"] + order["qty"])
        tx.update("holds", order["order_id"], status="RELEASED")
    return {"status": "released"}
"""

RESERVE = """
def reserve(request, ctx):
    order = request.data
    with ctx.db.transaction() as tx:
        if tx.get("holds", order["order_id"]):
            return {"status": "reserved"}
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            return {"status": "out_of_stock"}
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"],
                  version=stock["version"] + 1)
        tx.insert("holds", order["order_id"],
                  {"sku": order["sku"], "qty": order["qty"], "status": "RESERVED"})
    return {"status": "reserved"}
"""

ALL_HINTS = (
    RESERVE
    + """

def confirm(request, ctx):
    with ctx.db.transaction() as tx:
        tx.update("holds", request.data["order_id"], status="SOLD")
    return {"status": "confirmed"}


def release(request, ctx):
    oid = request.data["order_id"]
    with ctx.db.transaction() as tx:
        hold = tx.get("holds", oid)
        if hold["status"] != "RESERVED":
            return {"status": "released"}
        stock = tx.get("stock", hold["sku"])
        tx.update("stock", hold["sku"], available=stock["available"] + hold["qty"],
                  version=stock["version"] + 1)
        tx.update("holds", oid, status="RELEASED")
    return {"status": "released"}
"""
)

SNIPPETS = {
    "statement:0": ("def release(request, ctx):", ILLUSTRATION),
    "statement:1": ('tx.insert("holds", order_id', ILLUSTRATION),
    "hint:0": ("conditional update on the row's version", PROSE),
    "hint:1": (
        "On its own this still fails",
        [(RESERVE + STARTER_CONFIRM_AND_RELEASE, "no_lost_update")],
    ),
    "hint:2": ("Never write a count saved at reservation time", [(ALL_HINTS, "pass")]),
}

(
    test_every_snippet_and_hint_is_declared_with_what_it_promises,
    test_statement_snippets_are_valid_python,
    test_hint_gets_the_verdict_its_text_promises,
) = checks_for(SLUG, SNIPPETS)
