"""The saga-isolation exercise's hints and statement snippets with code get exactly the verdict their
text promises (same convention as tests/test_hint_code.py): the modules below are the starter with the
hints applied, in the words of the hints."""

from __future__ import annotations

import re
import textwrap

import pytest

import sandbox
from exercises.content_loader import CONTENT_DIR, read_exercise

PROSE = "prose"
ILLUSTRATION = "illustration"
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

_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
SPEC = read_exercise(CONTENT_DIR / SLUG)


def _texts() -> dict[str, str]:
    texts = {f"statement:{i}": block for i, block in enumerate(_BLOCK.findall(SPEC.statement))}
    texts.update({f"hint:{i}": hint for i, hint in enumerate(SPEC.hints)})
    return texts


def test_every_snippet_and_hint_is_declared_with_what_it_promises():
    texts = _texts()
    assert set(texts) == set(SNIPPETS)
    for where, (phrase, _) in SNIPPETS.items():
        assert phrase in texts[where], (where, phrase)


def test_statement_snippets_are_valid_python():
    for where, text in _texts().items():
        if where.startswith("statement:"):
            compile(text, where, "exec")


@pytest.mark.parametrize(
    "where,program,expected",
    [
        (where, program, expected)
        for where, (_, promise) in SNIPPETS.items()
        if isinstance(promise, list)
        for program, expected in promise
    ],
)
def test_hint_gets_the_verdict_its_text_promises(where, program, expected):
    report = sandbox.grade(SPEC.scenario, textwrap.dedent(program), seed=0, random_schedules=200)
    broken = [v["name"] for v in report["violations"]]
    if expected == "pass":
        assert report["status"] == "passed", report["message"]
    else:
        assert report["status"] == "failed", report["message"]
        assert expected in broken, (broken, report["message"])
