"""Mutation testing of the grader: the operators make the mistakes they promise, a fixed sample of
every reference's mutants is caught (or listed as equivalent), and the CLI's JSON has a fixed shape."""

import ast
import json
import textwrap

import pytest

from sandbox import mutate, scenarios
from sandbox.__main__ import main

SNIPPET = textwrap.dedent('''
    from saga_api import RetryLater, Step

    CAP = 3


    def first_time(tx, event):
        if tx.get("inbox", event.id):
            return False
        tx.insert("inbox", event.id, {})
        return True


    def handle(event, ctx):
        """Docstring stays first."""
        with ctx.db.transaction() as tx:
            if tx.get("seen", event.id):
                return
            tx.insert("seen", event.id, {})
            tx.update("orders", event.data["order_id"], status="DONE")
            tx.outbox("Done", {}, correlation_id=event.correlation_id)
        if event.attempt < CAP:
            raise RetryLater(100)
        ctx.call("inventory", "release", {}, idempotency_key="r-" + event.id, correlation_id=event.correlation_id)
        finish(ctx)


    def on_failed(event, ctx):
        with ctx.db.transaction() as tx:
            if first_time(tx, event):
                tx.update("orders", event.data["order_id"], status="CANCELLED")


    def saga():
        return [Step("a", "order.create", compensation="order.cancel"), Step("b", "payment.capture")]
''')

# operator -> a piece of text one of its mutants must contain (sources are ast.unparse'd)
EXPECTED = {
    "drop_kwarg": "ctx.call('inventory', 'release', {}, correlation_id=event.correlation_id)",
    "tx_own": "        with ctx.db.transaction() as _tx2:\n            _tx2.update('orders'",
    "tx_after": "        tx.outbox('Done', {}, correlation_id=event.correlation_id)\n"
    "    with ctx.db.transaction() as tx:\n        tx.update(",
    "tx_split": "        tx.insert('seen', event.id, {})\n    with ctx.db.transaction() as tx:\n        tx.update(",
    "outbox_publish": "        ctx.publish('Done', {}, correlation_id=event.correlation_id)\n    if event.attempt",
    "publish_after": "    ctx.publish('Done', {}, correlation_id=event.correlation_id)\n    if event.attempt",
    "insert_put": "tx.put('seen', event.id, {})",
    "drop_guard": "    with ctx.db.transaction() as tx:\n        tx.insert('seen', event.id, {})",
    "skip_check": "        if True:\n            tx.update('orders', event.data['order_id'], status='CANCELLED')",
    "new_id": "tx.get('seen', ctx.new_id('x'))",
    "drop_comp": "        raise RetryLater(100)\n    finish(ctx)",
    "reorder_comp": "    finish(ctx)\n    ctx.call('inventory', 'release'",
    "drop_step": "return [Step('b', 'payment.capture')]",
    "reorder_step": "return [Step('b', 'payment.capture'), Step('a'",
    "flip_cmp": "if event.attempt <= CAP:",
    "off_by_one": "CAP = 2",
    "retry_return": "    if event.attempt < CAP:\n        return\n",
    "swallow": '    """Docstring stays first."""\n    try:\n        with ctx.db.transaction() as tx:',
}


def _by_operator(source):
    out = {}
    for m in mutate.mutants(source):
        out.setdefault(m.operator, []).append(m)
    return out


@pytest.mark.parametrize("operator", mutate.OPERATORS)
def test_each_operator_makes_the_mistake_it_names(operator):
    made = _by_operator(SNIPPET).get(operator, [])
    assert made, f"{operator} produced no mutant of the snippet"
    assert any(EXPECTED[operator] in m.source for m in made), [m.source for m in made]
    assert all(m.id.startswith(operator + ":") and m.description for m in made)


def test_mutants_compile_differ_from_the_original_and_have_stable_unique_ids():
    original = ast.unparse(ast.parse(SNIPPET))
    first, again = mutate.mutants(SNIPPET), mutate.mutants(SNIPPET)
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)
    assert len({m.source for m in first}) == len(first)
    for m in first:
        compile(m.source, m.id, "exec")
        assert m.source.strip() != original.strip()


def test_off_by_one_goes_both_ways_and_keeps_the_line_in_the_id():
    made = _by_operator("CAP = 3\n")["off_by_one"]
    assert sorted(m.source.strip() for m in made) == ["CAP = 2", "CAP = 4"]
    assert sorted(m.id for m in made) == ["off_by_one:1:0", "off_by_one:1:1"]


def test_effects_in_helpers_without_ctx_get_no_new_transaction_or_new_id():
    # first_time(tx, event) has no ctx in scope: a mutant using ctx there would only be a NameError.
    helper = SNIPPET.split("def handle")[0]
    ops = _by_operator(helper)
    assert "tx_own" not in ops and "new_id" not in ops
    assert "drop_guard" in ops and "insert_put" in ops


def test_a_block_with_a_single_write_is_not_split_into_the_same_transaction_again():
    ops = _by_operator("def on_failed" + SNIPPET.split("def saga")[0].split("def on_failed")[1])
    assert "tx_own" not in ops and "tx_after" not in ops
    assert "skip_check" in ops


def test_the_sample_is_fixed_and_spread_over_operators():
    items = mutate.mutants(SNIPPET)
    chosen = mutate.sample(items, 5)
    assert [m.id for m in chosen] == [m.id for m in mutate.sample(items, 5)]
    assert len({m.operator for m in chosen}) == 5


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_every_reference_has_mutants_and_its_equivalents_list_is_current(name):
    ids = {m.id for m in mutate.mutants(scenarios.get(name).reference_source)}
    assert ids
    listed = mutate.equivalents(name)
    assert set(listed) <= ids, (
        f"stale entries in {name}/{mutate.EQUIVALENTS_FILE}: {sorted(set(listed) - ids)}"
    )
    assert all(reason for reason in listed.values()), (
        "every equivalent mutant needs a one-line reason"
    )


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_a_fixed_sample_of_mutants_is_killed_or_listed_as_equivalent(name):
    (result,) = mutate.run([name], schedules=40, sample_size=3, workers=1)
    assert result.reference == "passed"
    survivors = [(r["id"], r["description"]) for r in result.rows if r["verdict"] == "survived"]
    assert not survivors, f"the grader passes these mutants of the {name} reference: {survivors}"


def test_a_listed_mutant_whose_reason_starts_with_allowed_counts_as_allowed_not_equivalent():
    assert (
        mutate.verdict_of(False, "allowed: a duplicate at-least-once delivery allows") == "allowed"
    )
    assert mutate.verdict_of(False, "nothing in it raises") == "equivalent"
    assert mutate.verdict_of(False, None) == "survived"
    assert mutate.verdict_of(True, "allowed: anything") == "killed"


def test_the_summary_table_has_an_allowed_column_apart_from_equivalent():
    res = mutate.ScenarioResult(
        "x",
        rows=[
            {"verdict": v, "seconds": 0.0}
            for v in ("killed", "killed", "equivalent", "allowed", "allowed")
        ],
    )
    header, _, row = mutate.summary_table([res]).splitlines()
    assert header.split("|")[5:7] == [" equivalent ", " allowed "]
    assert row.split("|")[2:8] == [" 5 ", " 2 ", " 0 ", " 1 ", " 2 ", " 100% "]


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_every_allowed_reason_says_what_the_statement_allows(name):
    for mid, reason in mutate.equivalents(name).items():
        if reason.lower().startswith("allowed"):
            assert reason.startswith(mutate.ALLOWED) and len(reason) > len(mutate.ALLOWED) + 10, (
                mid,
                reason,
            )


def test_the_cli_prints_one_json_document_per_run(capsys):
    code = main(
        [
            "mutate",
            "idempotent_charge",
            "--json",
            "--sample",
            "2",
            "--schedules",
            "10",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"schedules", "sample", "seconds", "scenarios", "survivors"}
    (sc,) = report["scenarios"]
    assert set(sc) >= {
        "name",
        "reference",
        "mutants",
        "total",
        "killed",
        "survived",
        "equivalent",
        "allowed",
        "score",
        "stale_equivalents",
        "seconds",
    }
    assert sc["name"] == "idempotent_charge" and sc["total"] == len(sc["mutants"]) == 2
    for row in sc["mutants"]:
        assert set(row) >= {
            "id",
            "operator",
            "line",
            "description",
            "verdict",
            "status",
            "by",
            "seconds",
        }
        assert row["verdict"] in ("killed", "survived", "equivalent", "allowed")
    assert code == (1 if report["survivors"] else 0)


def test_the_cli_wants_scenarios_or_all_but_not_both(capsys):
    assert main(["mutate", "--quiet"]) == 2
    assert main(["mutate", "idempotent_charge", "--all", "--quiet"]) == 2
    assert main(["mutate", "no_such_scenario", "--quiet"]) == 2


def test_a_mutant_that_never_ends_is_stopped_and_counted_as_killed(monkeypatch):
    from sandbox import mutate

    monkeypatch.setattr(mutate, "MUTANT_SECONDS", 1)
    source = "def on_payment_captured(event, ctx):\n    while True:\n        pass\n"
    row = mutate._grade_one(("idempotent_consumer", "loop:1:0", source, 5))
    assert row["status"] == "timeout" and "never ends" in row["message"]
