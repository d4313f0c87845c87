"""Mutation testing of the grader: does it catch small, plausible mistakes in a reference?

``mutants(source)`` turns a scenario's reference into mutants with domain-aware AST
operators (the mistakes learners make with idempotency keys, transactions, outboxes,
compensations and retries, plus a few classic ones); ``run(names)`` grades every mutant
with the normal grader and reports, per mutant, whether it was *killed* (the grader did
not pass it), *survived* (it passed: the grader is too weak, or the mutant is listed as
equivalent) or is *equivalent* (listed in ``scenarios/<name>/equivalent_mutants.txt``
with a one-line reason: it cannot change behaviour in any world the scenario describes) or is
*allowed* (listed there with a reason that starts with ``allowed:``: its behaviour changes, but stays
within what the statement promises, for instance a duplicate that at-least-once delivery allows or
another constant a policy may choose; it is another correct solution, not a wrong one).

Mutants are derived from trusted references, so they are graded in-process.

Operators (the id of a mutant is ``operator:line:index``, the line of the reference):

  drop_kwarg      drop an ``idempotency_key=`` or ``correlation_id=`` argument
  tx_own          an effect (``tx.insert/put/update/delete/outbox``) in its own transaction, in place
  tx_after        a top-level effect moved out of its transaction into a new one after the block
                  (neither for a block's only write: that would be the same transaction)
  tx_split        the transaction split in two before an effect (both halves write)
  outbox_publish  ``tx.outbox(...)`` published directly, in place (before the commit)
  publish_after   a top-level ``tx.outbox(...)`` as ``ctx.publish(...)`` after the block
  insert_put      ``tx.insert`` -> ``tx.put``
  drop_guard      delete an ``if ...: return ...`` guard
  skip_check      a duplicate check (``if first_time(...)``, ``if tx.get(...)``) always taken
  new_id          a stable key (store key, idempotency key, event id, correlation id) -> ``ctx.new_id("x")``
  drop_comp       delete a compensation (a release/refund/cancel/void call or event, a ``compensation=``)
  reorder_comp    a compensation swapped with its neighbour, or compensations run oldest first
  drop_step       delete a saga ``Step``
  reorder_step    swap two adjacent saga ``Step`` s
  flip_cmp        ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``
  off_by_one      a numeric constant (module constant, comparison operand, cap) ``n`` -> ``n+1`` / ``n-1``
  retry_return    ``raise RetryLater(...)`` -> ``return``
  swallow         a function body wrapped in ``try: ... except Exception: pass``
"""

from __future__ import annotations

import ast
import copy
import hashlib
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO, TypeGuard

from . import scenarios
from .explore import grade
from .report import Status

EFFECT_METHODS = ("insert", "put", "update", "delete", "outbox")
STORE_METHODS = ("get", "insert", "put", "update", "delete")
KEY_KWARGS = ("idempotency_key", "correlation_id")
KEY_ATTRS = ("id", "idempotency_key", "correlation_id")
COMPENSATION_OPS = ("release", "refund", "cancel", "void")
COMPENSATION_EVENTS = ("Release", "Refund", "Cancel", "Void")
CHECK_CALLS = ("get", "find")  # a read that a duplicate check is made of
CHECK_WORDS = ("first_time", "seen", "processed", "already", "dup")  # or a helper named for one
FLIPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}
CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
OPERATORS = (
    "drop_kwarg",
    "tx_own",
    "tx_after",
    "tx_split",
    "outbox_publish",
    "publish_after",
    "insert_put",
    "drop_guard",
    "skip_check",
    "new_id",
    "drop_comp",
    "reorder_comp",
    "drop_step",
    "reorder_step",
    "flip_cmp",
    "off_by_one",
    "retry_return",
    "swallow",
)
DEFAULT_SCHEDULES = 500
REFERENCE = "(reference)"
EQUIVALENTS_FILE = "equivalent_mutants.txt"
ALLOWED = "allowed:"  # a reason starting with this: correct by the statement, not equivalent


# Where each node sits: id(node) -> (parent, field name, index in that field's list or None).
Parents = dict[int, tuple[ast.AST, str, int | None]]
# Edits a copy of the tree in place, at the copy of the node a finder picked. The node is typed Any:
# the transform reaches into the fields of the kind of node its finder checked, and an edit that
# does not apply raises (AttributeError, IndexError, TypeError, ...), which mutants() skips.
Transform = Callable[[ast.AST, Any, Parents], None]
# What a finder yields: (operator, line, description, node index, transform).
Candidate = tuple[str, int, str, int, Transform]


@dataclass(frozen=True)
class Mutant:
    id: str  # operator:line:index (line of the reference)
    operator: str
    line: int
    description: str
    source: str


# -- helpers on the tree ------------------------------------------------------------------------


def _short(node: ast.AST, width: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _func_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _is_method(
    node: object, names: tuple[str, ...], receiver: str | None = None
) -> TypeGuard[ast.Call]:
    """``<receiver>.<name>(...)`` with name in ``names`` (any receiver if None)."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    ):
        return False
    return receiver is None or (
        isinstance(node.func.value, ast.Name) and node.func.value.id == receiver
    )


def _tx_with(node: ast.AST) -> tuple[ast.Call, str] | None:
    """For ``with X.transaction() as tx:`` return (the context expression, "tx")."""
    if not isinstance(node, ast.With) or len(node.items) != 1:
        return None
    item = node.items[0]
    if _is_method(item.context_expr, ("transaction",)) and isinstance(item.optional_vars, ast.Name):
        return item.context_expr, item.optional_vars.id
    return None


def _ctx_of(context_expr: ast.Call) -> ast.expr | None:
    """``ctx`` in ``ctx.db.transaction()``."""
    f = context_expr.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute):
        return f.value.value
    return None


def _stmt_list(parents: Parents, node: ast.AST) -> tuple[list[Any], int] | None:
    """The statement list holding ``node`` and its index in it."""
    where = parents.get(id(node))
    if where is None:
        return None
    parent, fieldname, index = where
    if index is None:
        return None
    return getattr(parent, fieldname), index


def _place(parents: Parents, node: ast.AST) -> tuple[list[Any], int]:
    """``_stmt_list`` for an edit: a node outside a statement list cannot be moved or removed (a
    TypeError, which mutants() counts as a mutant that does not apply)."""
    found = _stmt_list(parents, node)
    if found is None:
        raise TypeError("the node is not in a statement list")
    return found


def _index(tree: ast.AST) -> tuple[list[ast.AST], Parents]:
    nodes = list(ast.walk(tree))
    parents: Parents = {}
    for node in nodes:
        for fieldname, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        parents[id(child)] = (node, fieldname, i)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (node, fieldname, None)
    return nodes, parents


def _remove(stmts: list[Any], i: int) -> None:
    del stmts[i]
    if not stmts:
        stmts.append(ast.Pass())


def _enclosing(
    parents: Parents, node: ast.AST, kinds: type[ast.AST] | tuple[type[ast.AST], ...]
) -> ast.AST | None:
    """Innermost ancestor of one of ``kinds``, stopping at a function boundary."""
    cur = node
    while id(cur) in parents:
        cur = parents[id(cur)][0]
        if isinstance(cur, kinds):
            return cur
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return None
    return None


def _has_ctx(parents: Parents, node: ast.AST) -> bool:
    """Is a parameter called ``ctx`` visible here (lexically)?"""
    cur = node
    while id(cur) in parents:
        cur = parents[id(cur)][0]
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if any(a.arg == "ctx" for a in cur.args.args + cur.args.kwonlyargs):
                return True
    return False


def _effect_stmts(with_node: ast.With, tx: str) -> list[tuple[ast.Expr, bool]]:
    """Expression statements ``tx.<effect>(...)`` anywhere in the block (not in nested functions
    or nested transactions), with whether they sit directly in the block."""
    out: list[tuple[ast.Expr, bool]] = []

    def visit(stmts: list[ast.stmt], top: bool) -> None:
        for s in stmts:
            if isinstance(s, ast.Expr) and _is_method(s.value, EFFECT_METHODS, tx):
                out.append((s, top))
            elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or _tx_with(
                s
            ):
                continue
            else:
                for fieldname in ("body", "orelse", "finalbody"):
                    visit(getattr(s, fieldname, []) or [], False)
                for h in getattr(s, "handlers", []) or []:
                    visit(h.body, False)

    visit(with_node.body, True)
    return out


def _contains_effect(stmts: list[ast.stmt], tx: str) -> bool:
    for s in stmts:
        for n in ast.walk(s):
            if _is_method(n, EFFECT_METHODS, tx):
                return True
    return False


def _new_id_call(ctx: str = "ctx") -> ast.Call:
    return ast.Call(
        func=ast.Attribute(value=ast.Name(id=ctx, ctx=ast.Load()), attr="new_id", ctx=ast.Load()),
        args=[ast.Constant("x")],
        keywords=[],
    )


def _is_new_id(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _func_name(node) == "new_id"


def _is_compensation(node: ast.AST) -> bool:
    """A call that undoes an earlier step: ``call(..., "release"|"refund"|"cancel"|"void", ...)``
    or an outbox/publish of a ``Release*``/``Cancel*``/... event."""
    if not isinstance(node, ast.Call):
        return False
    name = _func_name(node)
    consts = [
        a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]
    if name == "call" and any(c in COMPENSATION_OPS for c in consts):
        return True
    if name in ("outbox", "publish") and consts and consts[0].startswith(COMPENSATION_EVENTS):
        return True
    return False


def _is_check(test: ast.AST) -> bool:
    for n in ast.walk(test):
        if isinstance(n, ast.Call):
            name = _func_name(n).lower()
            if name in CHECK_CALLS or any(w in name for w in CHECK_WORDS):
                return True
    return False


# -- the operators --------------------------------------------------------------------------------
# Each finder gets the original tree's node list and parent map and yields
# (operator, line, description, node index, transform); transform(tree_copy, node, parents) edits the copy.


def _ops(nodes: list[ast.AST], parents: Parents) -> Iterator[Candidate]:
    where = {id(n): i for i, n in enumerate(nodes)}
    for i, node in enumerate(nodes):
        line = getattr(node, "lineno", 0)

        # keyword arguments, insert, saga steps
        if isinstance(node, ast.Call):
            for k, kw in enumerate(node.keywords):
                if kw.arg in KEY_KWARGS:

                    def drop(tree: ast.AST, n: Any, parents: Parents, k: int = k) -> None:
                        del n.keywords[k]

                    yield (
                        "drop_kwarg",
                        line,
                        f"drop {kw.arg}= from {_short(node.func)}(...)",
                        i,
                        drop,
                    )

            # insert -> put
            if _is_method(node, ("insert",)) and len(node.args) == 3:

                def to_put(tree: ast.AST, n: Any, parents: Parents) -> None:
                    n.func.attr = "put"

                yield (
                    "insert_put",
                    line,
                    f"{_short(node.func)}({_short(node.args[0])}, ...) -> put",
                    i,
                    to_put,
                )

            # Step(...) compensation
            if _func_name(node) == "Step":
                for k, kw in enumerate(node.keywords):
                    if kw.arg == "compensation":

                        def drop_c(tree: ast.AST, n: Any, parents: Parents, k: int = k) -> None:
                            del n.keywords[k]

                        yield (
                            "drop_comp",
                            line,
                            f"drop compensation={_short(kw.value)} from "
                            f"Step({_short(node.args[0]) if node.args else ''})",
                            i,
                            drop_c,
                        )
                if len(node.args) >= 3:

                    def drop_p(tree: ast.AST, n: Any, parents: Parents) -> None:
                        del n.args[2:]

                    yield (
                        "drop_comp",
                        line,
                        f"drop compensation {_short(node.args[2])} from "
                        f"Step({_short(node.args[0])})",
                        i,
                        drop_p,
                    )

        # new_id: store keys, key kwargs, id attributes
        if _has_ctx(parents, node):
            target: tuple[str, int | None] | None = None
            sub: ast.AST = node
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in STORE_METHODS
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                target = ("args", 1)
                sub = node.args[1]
                what = f"the key of {_short(node.func)}({_short(node.args[0])}, {_short(node.args[1], 30)})"
            elif isinstance(node, ast.keyword) and node.arg in KEY_KWARGS:
                target = ("value", None)
                sub = node.value
                what = f"{node.arg}={_short(node.value, 30)}"
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in KEY_ATTRS
                and isinstance(node.value, ast.Name)
                and node.value.id != "ctx"
                and isinstance(node.ctx, ast.Load)
            ):
                holder = parents.get(id(node), (None, None, None))
                # the value of a key kwarg is already covered above
                if not (isinstance(holder[0], ast.keyword) and holder[0].arg in KEY_KWARGS):
                    target = ("self", None)
                    what = _short(node)
            if target:
                kind, pos = target
                if not _is_new_id(sub):

                    def renew(
                        tree: ast.AST,
                        n: Any,
                        parents: Parents,
                        kind: str = kind,
                        pos: int | None = pos,
                    ) -> None:
                        if kind == "args":
                            n.args[pos] = _new_id_call()
                        elif kind == "value":
                            n.value = _new_id_call()
                        else:
                            parent, fieldname, index = parents[id(n)]
                            if index is None:
                                setattr(parent, fieldname, _new_id_call())
                            else:
                                getattr(parent, fieldname)[index] = _new_id_call()

                    yield (
                        "new_id",
                        getattr(node, "lineno", 0) or line,
                        f'{what} -> ctx.new_id("x")',
                        i,
                        renew,
                    )

        # transactions
        tx_info = _tx_with(node)
        if tx_info and isinstance(node, ast.With):  # (only a with statement has one)
            context_expr, tx = tx_info
            ctx_expr = _ctx_of(context_expr)
            found = _effect_stmts(node, tx)
            alone = (
                len(found) == 1
            )  # a block's only write: its own transaction is the same transaction
            for stmt, top in found:
                sline = stmt.lineno
                call = stmt.value
                assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                method = call.func.attr
                j = where[id(stmt)]

                def own(
                    tree: ast.AST, s: Any, parents: Parents, context_expr: ast.Call = context_expr
                ) -> None:
                    stmts, k = _place(parents, s)
                    inner = copy.deepcopy(s)
                    inner.value.func.value = ast.Name(id="_tx2", ctx=ast.Load())
                    stmts[k] = ast.With(
                        items=[
                            ast.withitem(
                                context_expr=copy.deepcopy(context_expr),
                                optional_vars=ast.Name(id="_tx2", ctx=ast.Store()),
                            )
                        ],
                        body=[inner],
                    )

                if not alone:
                    yield ("tx_own", sline, f"{_short(call, 50)} in its own transaction", j, own)

                if method == "outbox" and ctx_expr is not None:

                    def publish(
                        tree: ast.AST, s: Any, parents: Parents, ctx_expr: ast.expr = ctx_expr
                    ) -> None:
                        s.value.func = ast.Attribute(
                            value=copy.deepcopy(ctx_expr), attr="publish", ctx=ast.Load()
                        )

                    yield (
                        "outbox_publish",
                        sline,
                        f"{_short(call, 50)} -> ctx.publish before the commit",
                        j,
                        publish,
                    )

                if top:
                    w = i

                    def after(
                        tree: ast.AST,
                        wnode: Any,
                        parents: Parents,
                        s_index: int = node.body.index(stmt),  # noqa: B008 -- binds this loop's index
                        context_expr: ast.Call = context_expr,
                        tx: str = tx,
                    ) -> None:
                        stmts, k = _place(parents, wnode)
                        moved = wnode.body[s_index]
                        _remove(wnode.body, s_index)
                        stmts.insert(
                            k + 1,
                            ast.With(
                                items=[
                                    ast.withitem(
                                        context_expr=copy.deepcopy(context_expr),
                                        optional_vars=ast.Name(id=tx, ctx=ast.Store()),
                                    )
                                ],
                                body=[moved],
                            ),
                        )

                    if not alone:
                        yield (
                            "tx_after",
                            sline,
                            f"{_short(call, 50)} moved to a transaction after the block",
                            w,
                            after,
                        )

                    if method == "outbox" and ctx_expr is not None:

                        def pub_after(
                            tree: ast.AST,
                            wnode: Any,
                            parents: Parents,
                            s_index: int = node.body.index(stmt),  # noqa: B008
                            ctx_expr: ast.expr = ctx_expr,
                        ) -> None:
                            stmts, k = _place(parents, wnode)
                            moved = wnode.body[s_index]
                            _remove(wnode.body, s_index)
                            moved.value.func = ast.Attribute(
                                value=copy.deepcopy(ctx_expr), attr="publish", ctx=ast.Load()
                            )
                            stmts.insert(k + 1, moved)

                        yield (
                            "publish_after",
                            sline,
                            f"{_short(call, 50)} -> ctx.publish after the commit",
                            w,
                            pub_after,
                        )

                    s_index = node.body.index(stmt)
                    if s_index > 0 and _contains_effect(node.body[:s_index], tx):

                        def split(
                            tree: ast.AST, wnode: Any, parents: Parents, s_index: int = s_index
                        ) -> None:
                            stmts, k = _place(parents, wnode)
                            second = ast.With(
                                items=copy.deepcopy(wnode.items), body=wnode.body[s_index:]
                            )
                            del wnode.body[s_index:]
                            stmts.insert(k + 1, second)

                        yield (
                            "tx_split",
                            sline,
                            f"transaction split in two before {_short(call, 50)}",
                            w,
                            split,
                        )

        # guards and checks
        if (
            isinstance(node, ast.If)
            and not node.orelse
            and node.body
            and isinstance(node.body[-1], ast.Return)
            and _stmt_list(parents, node)
        ):

            def drop_guard(tree: ast.AST, n: Any, parents: Parents) -> None:
                stmts, k = _place(parents, n)
                _remove(stmts, k)

            yield (
                "drop_guard",
                line,
                f"delete the guard `if {_short(node.test, 40)}: {_short(node.body[-1], 30)}`",
                i,
                drop_guard,
            )
        elif isinstance(node, ast.If) and _is_check(node.test):

            def always(tree: ast.AST, n: Any, parents: Parents) -> None:
                n.test = ast.Constant(True)

            yield (
                "skip_check",
                line,
                f"the check `if {_short(node.test, 40)}` always taken",
                i,
                always,
            )

        # compensations (statements)
        if (
            isinstance(node, ast.Expr)
            and _is_compensation(node.value)
            and _stmt_list(parents, node)
        ):

            def drop_comp(tree: ast.AST, n: Any, parents: Parents) -> None:
                stmts, k = _place(parents, n)
                _remove(stmts, k)

            yield (
                "drop_comp",
                line,
                f"delete the compensation {_short(node.value, 50)}",
                i,
                drop_comp,
            )
            stmts, k = _place(parents, node)
            for other, label in ((k + 1, "after"), (k - 1, "before")):
                if 0 <= other < len(stmts) and not isinstance(
                    stmts[other], (ast.Return, ast.Raise)
                ):

                    def swap(
                        tree: ast.AST, n: Any, parents: Parents, delta: int = other - k
                    ) -> None:
                        lst, m = _place(parents, n)
                        lst[m], lst[m + delta] = lst[m + delta], lst[m]

                    yield (
                        "reorder_comp",
                        line,
                        f"{_short(node.value, 40)} moved {label} {_short(stmts[other], 40)}",
                        i,
                        swap,
                    )
        if (
            isinstance(node, ast.For)
            and isinstance(node.iter, ast.Call)
            and _func_name(node.iter) == "reversed"
            and node.iter.args
            and any(_is_compensation(n) for n in ast.walk(node))
        ):

            def oldest_first(tree: ast.AST, n: Any, parents: Parents) -> None:
                n.iter = n.iter.args[0]

            yield (
                "reorder_comp",
                line,
                f"compensations run oldest first (for ... in {_short(node.iter.args[0])})",
                i,
                oldest_first,
            )

        # saga steps
        if (
            isinstance(node, ast.List)
            and len(node.elts) > 1
            and all(isinstance(e, ast.Call) and _func_name(e) == "Step" for e in node.elts)
        ):
            for k, step in enumerate(node.elts):
                assert isinstance(step, ast.Call)  # checked above

                def drop_step(tree: ast.AST, n: Any, parents: Parents, k: int = k) -> None:
                    del n.elts[k]

                yield ("drop_step", step.lineno, f"delete {_short(step, 50)}", i, drop_step)
                if k + 1 < len(node.elts):

                    def swap_steps(tree: ast.AST, n: Any, parents: Parents, k: int = k) -> None:
                        n.elts[k], n.elts[k + 1] = n.elts[k + 1], n.elts[k]

                    yield (
                        "reorder_step",
                        step.lineno,
                        f"swap step {_short(step.args[0]) if step.args else k} with the next one",
                        i,
                        swap_steps,
                    )

        # comparisons
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in FLIPS:

                    def flip(tree: ast.AST, n: Any, parents: Parents, k: int = k) -> None:
                        n.ops[k] = FLIPS[type(n.ops[k])]()

                    yield (
                        "flip_cmp",
                        line,
                        f"`{_short(node, 40)}`: {CMP_TEXT[type(op)]} -> "
                        f"{CMP_TEXT[FLIPS[type(op)]]}",
                        i,
                        flip,
                    )

        # numeric constants: module constants, comparison operands, min/max/range arguments
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
            and _is_cap(parents, node)
        ):
            for delta in (1, -1):

                def bump(tree: ast.AST, n: Any, parents: Parents, delta: int = delta) -> None:
                    n.value = n.value + delta

                yield (
                    "off_by_one",
                    line,
                    f"{node.value!r} -> {node.value + delta!r} in "
                    f"`{_short(_cap_context(parents, node), 40)}`",
                    i,
                    bump,
                )

        # retries
        if (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and _func_name(node.exc) == "RetryLater"
            and _stmt_list(parents, node)
        ):

            def to_return(tree: ast.AST, n: Any, parents: Parents) -> None:
                stmts, k = _place(parents, n)
                stmts[k] = ast.Return(value=None)

            yield (
                "retry_return",
                line,
                f"`raise {_short(node.exc, 30)}` -> `return`",
                i,
                to_return,
            )

        # catch-all
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):

            def swallow(tree: ast.AST, n: Any, parents: Parents) -> None:
                body = n.body
                head = []
                if (
                    body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                ):
                    head, body = body[:1], body[1:]
                handler = ast.ExceptHandler(
                    type=ast.Name(id="Exception", ctx=ast.Load()), name=None, body=[ast.Pass()]
                )
                n.body = head + [
                    ast.Try(body=body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])
                ]

            yield (
                "swallow",
                line,
                f"the body of {node.name}() wrapped in `except Exception: pass`",
                i,
                swallow,
            )


def _cap_context(parents: Parents, node: ast.AST) -> ast.AST:
    cur = node
    while id(cur) in parents:
        parent = parents[id(cur)][0]
        if isinstance(parent, (ast.Compare, ast.Assign, ast.AnnAssign)) or (
            isinstance(parent, ast.Call) and _func_name(parent) in ("min", "max", "range")
        ):
            return parent
        cur = parent
    return node


def _is_cap(parents: Parents, node: ast.AST) -> bool:
    """A constant in a comparison or a min/max/range argument, or a module-level constant."""
    cur = node
    while id(cur) in parents:
        parent, fieldname, _ = parents[id(cur)]
        if isinstance(parent, ast.Compare):
            return True
        if isinstance(parent, ast.Call):
            return _func_name(parent) in ("min", "max", "range") and fieldname == "args"
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            grand = parents.get(id(parent))
            return grand is not None and isinstance(grand[0], ast.Module)
        if isinstance(parent, (ast.stmt, ast.Subscript)):
            return False
        cur = parent
    return False


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source`` that compiles and differs from it, in a stable order."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    nodes, parents = _index(tree)
    candidates = sorted(_ops(nodes, parents), key=lambda c: (c[1], OPERATORS.index(c[0])))
    seen: dict[tuple[str, int], int] = {}
    out, texts = [], {original}
    for op, line, description, node_index, transform in candidates:
        n = seen.get((op, line), 0)
        seen[(op, line)] = n + 1
        copy_tree = copy.deepcopy(tree)
        copy_nodes, copy_parents = _index(copy_tree)
        try:
            transform(copy_tree, copy_nodes[node_index], copy_parents)
            ast.fix_missing_locations(copy_tree)
            text = ast.unparse(copy_tree)
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError, AttributeError, IndexError):
            continue
        if text in texts:
            continue
        texts.add(text)
        out.append(Mutant(f"{op}:{line}:{n}", op, line, description, text + "\n"))
    return out


def sample(items: list[Mutant], n: int, salt: str = "") -> list[Mutant]:
    """A fixed, spread-out choice of ``n`` mutants: one per operator in turn, each operator's
    mutants in the order of a hash of their ids (stable while the reference does not move).
    ``salt`` (the scenario's name) varies which operators come first from one scenario to the next."""

    def h(text: str) -> str:
        return hashlib.sha256((salt + ":" + text).encode()).hexdigest()

    by_op: dict[str, list[Mutant]] = {}
    for m in sorted(items, key=lambda m: h(m.id)):
        by_op.setdefault(m.operator, []).append(m)
    order = sorted(by_op, key=h)
    chosen: list[Mutant] = []
    while len(chosen) < n and any(by_op.values()):
        for op in order:
            if by_op[op] and len(chosen) < n:
                chosen.append(by_op[op].pop(0))
    return sorted(chosen, key=lambda m: (m.line, OPERATORS.index(m.operator), m.id))


# -- equivalents ----------------------------------------------------------------------------------


def equivalents(name: str) -> dict[str, str]:
    """``{mutant id: reason}`` from ``scenarios/<name>/equivalent_mutants.txt``."""
    path = Path(__file__).resolve().parent / "scenarios" / name / EQUIVALENTS_FILE
    out: dict[str, str] = {}
    if path.exists():
        for raw in path.read_text().splitlines():
            mid, _, reason = raw.partition("#")
            if mid.strip():
                out[mid.strip()] = reason.strip()
    return out


def verdict_of(killed: bool, reason: str | None) -> str:
    """killed; survived (not listed); allowed (listed, reason ``allowed: ...``); equivalent (listed)."""
    if killed:
        return "killed"
    if reason is None:
        return "survived"
    return "allowed" if reason.startswith(ALLOWED) else "equivalent"


# -- grading --------------------------------------------------------------------------------------

MUTANT_SECONDS = (
    120  # a mutant still grading after this (say, a loop whose exit was mutated) is killed
)


class _MutantTimeout(BaseException):  # not caught by the learner-code or grader catch-alls
    pass


def _grade_one(job: tuple[str, str, str, int]) -> dict[str, Any]:
    name, mid, source, schedules = job
    started = time.perf_counter()

    def expire(signum: int, frame: FrameType | None) -> NoReturn:
        raise _MutantTimeout()

    # Mutants run in-process (they are derived from trusted references), so nothing else bounds a
    # loop whose exit a mutation removed: an alarm does.
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(MUTANT_SECONDS)
    report: Mapping[str, Any]
    try:
        report = grade(name, source, seed=0, random_schedules=schedules)
    except _MutantTimeout:
        report = {
            "status": Status.TIMEOUT,
            "violations": [],
            "message": f"still grading after {MUTANT_SECONDS} s (a loop that never ends)",
        }
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return {
        "id": mid,
        "status": report["status"],
        "by": [v["name"] for v in report["violations"]],
        "message": report["message"][:200],
        "seconds": round(time.perf_counter() - started, 2),
    }


@dataclass
class ScenarioResult:
    name: str
    reference: str = "passed"  # the reference's own grading status
    rows: list[dict[str, Any]] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r["verdict"] == verdict)

    @property
    def score(self) -> float | None:
        judged = self.count("killed") + self.count("survived")
        return None if judged == 0 else self.count("killed") / judged

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reference": self.reference,
            "mutants": self.rows,
            "total": len(self.rows),
            "killed": self.count("killed"),
            "survived": self.count("survived"),
            "equivalent": self.count("equivalent"),
            "allowed": self.count("allowed"),
            "score": None if self.score is None else round(self.score, 4),
            "stale_equivalents": self.stale_equivalents,
            "seconds": round(self.seconds, 2),
        }


def run(
    names: list[str],
    *,
    schedules: int = DEFAULT_SCHEDULES,
    sample_size: int | None = None,
    workers: int = 2,
    progress: Callable[[str], object] | None = None,
) -> list[ScenarioResult]:
    """Generate and grade the mutants of each scenario's reference."""
    plans: list[tuple[str, list[Mutant], dict[str, str]]] = []
    for name in names:
        ms = mutants(scenarios.get(name).reference_source)
        if sample_size is not None:
            ms = sample(ms, sample_size, salt=name)
        plans.append((name, ms, equivalents(name)))
    # The reference itself first: if it does not pass, "killed" means nothing.
    # (as the mutants are: through ast.unparse, so comments and layout cannot matter)
    jobs = [
        (
            name,
            REFERENCE,
            ast.unparse(ast.parse(scenarios.get(name).reference_source)) + "\n",
            schedules,
        )
        for name, _, _ in plans
    ]
    jobs += [(name, m.id, m.source, schedules) for name, ms, _ in plans for m in ms]
    done: dict[tuple[str, str], dict[str, Any]] = {}
    total = len(jobs)

    def note(job: tuple[str, str, str, int], result: dict[str, Any]) -> None:
        done[(job[0], job[1])] = result
        if progress:
            progress(
                f"[{len(done)}/{total}] {job[0]} {job[1]}: {result['status']} ({result['seconds']:.1f}s)"
            )

    if workers <= 1 or total <= 1:
        for job in jobs:
            note(job, _grade_one(job))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_grade_one, job): job for job in jobs}
            for fut in as_completed(futures):
                note(futures[fut], fut.result())

    results: list[ScenarioResult] = []
    for name, ms, eq in plans:
        res = ScenarioResult(name, reference=done[(name, REFERENCE)]["status"])
        ids = {m.id for m in ms}
        res.stale_equivalents = [] if sample_size is not None else sorted(set(eq) - ids)
        for m in ms:
            r = done[(name, m.id)]
            killed = r["status"] != "passed"
            verdict = verdict_of(killed, eq.get(m.id))
            res.rows.append(
                {
                    "id": m.id,
                    "operator": m.operator,
                    "line": m.line,
                    "description": m.description,
                    "verdict": verdict,
                    "status": r["status"],
                    "by": r["by"],
                    "seconds": r["seconds"],
                    "listed_equivalent": m.id in eq,
                    "reason": eq.get(m.id, ""),
                }
            )
            res.seconds += r["seconds"]
        results.append(res)
    return results


def render(results: list[ScenarioResult], out: TextIO = sys.stdout) -> None:
    for res in results:
        print(f"\n== {res.name}", file=out)
        if res.reference != "passed":
            print(
                f"  the reference itself did not pass ({res.reference}): these verdicts mean nothing",
                file=out,
            )
        width = max([len(r["id"]) for r in res.rows] + [10])
        for r in res.rows:
            by = f" [{', '.join(r['by']) or r['status']}]" if r["verdict"] == "killed" else ""
            listed = "allowed" if r["reason"].startswith(ALLOWED) else "equivalent"
            flag = (
                f"  (listed as {listed}, but killed!)"
                if r["verdict"] == "killed" and r["listed_equivalent"]
                else ""
            )
            print(
                f"  {r['id']:{width}}  {r['verdict']:10} {r['seconds']:6.2f}s  {r['description']}{by}{flag}",
                file=out,
            )
        for mid in res.stale_equivalents:
            print(
                f"  {mid:{width}}  stale: listed in {EQUIVALENTS_FILE} but no longer generated",
                file=out,
            )
    print("\n" + summary_table(results), file=out)


def summary_table(results: list[ScenarioResult]) -> str:
    lines = [
        "| scenario | mutants | killed | survived | equivalent | allowed | score | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    tot = {"n": 0, "k": 0, "s": 0, "e": 0, "a": 0, "t": 0.0}
    for res in results:
        score = "-" if res.score is None else f"{res.score:.0%}"
        lines.append(
            f"| {res.name} | {len(res.rows)} | {res.count('killed')} | {res.count('survived')} | "
            f"{res.count('equivalent')} | {res.count('allowed')} | {score} | {res.seconds:.1f} |"
        )
        tot["n"] += len(res.rows)
        tot["k"] += res.count("killed")
        tot["s"] += res.count("survived")
        tot["e"] += res.count("equivalent")
        tot["a"] += res.count("allowed")
        tot["t"] += res.seconds
    if len(results) > 1:
        judged = tot["k"] + tot["s"]
        score = "-" if not judged else f"{tot['k'] / judged:.0%}"
        lines.append(
            f"| **all** | {tot['n']} | {tot['k']} | {tot['s']} | {tot['e']} | {tot['a']} | {score} | "
            f"{tot['t']:.1f} |"
        )
    return "\n".join(lines)
