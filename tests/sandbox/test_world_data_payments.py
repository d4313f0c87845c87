"""Worlds that vary their data per schedule, invariants as strong as the statements, and statements
and hints that say exactly what is graded: payment API, idempotent consumer, order outbox, poison
messages and correlation ids."""

import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import sandbox
from sandbox import playgrounds, scenarios

CONTENT = Path(__file__).resolve().parents[2] / "exercises" / "content"
SOLUTIONS = Path(__file__).resolve().parent / "solutions"
SEEDS = range(60)
EXERCISES = {
    "idempotent-payment-api": "idempotent_charge",
    "idempotent-consumer": "idempotent_consumer",
    "order-outbox-relay": "order_outbox",
    "dead-letter-poison-message": "poison_message",
    "correlation-id-propagation": "correlation_ids",
}


def _data(name, seed):
    """A scenario's data for one schedule seed (the world's generator is seeded like World's)."""
    return scenarios.get(name).data(SimpleNamespace(rng=random.Random(seed)))


def _grade(name, source, schedules=200, seed=0):
    return sandbox.grade(name, source, seed=seed, random_schedules=schedules)


def _broken(report):
    return [v["name"] for v in report["violations"]]


def _variant(name, stem):
    return scenarios.get(name).variants[stem][0]


# -- data families ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXERCISES.values()))
def test_data_is_the_same_for_one_seed_and_differs_between_seeds(name):
    assert _data(name, 7) == _data(name, 7)
    assert len({repr(_data(name, seed)) for seed in SEEDS}) == scenarios.get(name).DATA_WORLDS


def test_payment_ids_keys_and_correlation_ids_cannot_be_rebuilt_from_each_other():
    for seed in SEEDS:
        data = _data("idempotent_charge", seed)
        for pay in data["payments"]:
            oid = pay["data"]["order_id"]
            for other in (pay["key"], pay["again_key"], pay["correlation_id"]):
                assert oid not in other and oid.split("-")[1] not in other
            assert pay["key"] != pay["again_key"]
        assert len({p["data"]["order_id"] for p in data["payments"]}) == len(data["payments"])


def test_every_payment_world_has_shared_customers_money_that_runs_out_and_a_top_up():
    sc = scenarios.get("idempotent_charge")
    for seed in SEEDS:
        data = _data("idempotent_charge", seed)
        roles, balances = data["customers"], data["balances"]
        by = {
            c: [p["data"] for p in data["payments"] if p["data"]["customer"] == c] for c in balances
        }
        assert len(by[roles["short"]]) >= 2 and len(by[roles["topup"]]) == 2
        # The short customer can pay all but the last order, to the last unit: every lost-reply
        # retry of a charged order is under-funded, and the last order is declined.
        short = by[roles["short"]]
        assert balances[roles["short"]] == sum(o["amount"] for o in short[:-1])
        # The top-up customer affords the first order only, until money arrives before any retry.
        first, second = by[roles["topup"]]
        assert first["amount"] <= balances[roles["topup"]] < first["amount"] + second["amount"]
        [(t, who, amount)] = data["topups"]
        assert who == roles["topup"] and sc.TOPUP_FROM_MS <= t <= sc.TOPUP_TO_MS < sc.FIRST_RETRY_MS
        assert balances[who] - first["amount"] + amount >= second["amount"]
        # The first payment sent is always affordable twice over (the playground loses its reply).
        lead = data["payments"][0]["data"]
        assert lead["customer"] == roles["plenty"] and balances[roles["plenty"]] >= 2 * sum(
            o["amount"] for o in by[roles["plenty"]]
        )
        assert all(p["reuse_data"] != p["data"] for p in data["payments"])
        assert any(p["reuse_data"]["order_id"] != p["data"]["order_id"] for p in data["payments"])
        assert any(p["reuse_data"]["order_id"] == p["data"]["order_id"] for p in data["payments"])


def test_every_consumer_world_has_a_shared_checkout_and_a_re_announced_capture():
    sc = scenarios.get("idempotent_consumer")
    for seed in SEEDS:
        data = _data("idempotent_consumer", seed)
        corr = list(data["corr"].values())
        assert len(set(corr)) == len(corr) - 1, "exactly two orders share a checkout"
        assert all(oid not in c for oid, c in data["corr"].items())
        assert 1 <= len(data["reannounce"]) <= 2
        assert all(sc.REANNOUNCE_FROM_MS <= t <= sc.REANNOUNCE_TO_MS for t, _ in data["reannounce"])
        assert len({o["payment_id"] for o in data["orders"]}) == len(data["orders"])


def test_every_outbox_world_has_shared_skus_and_a_re_sent_order():
    sc = scenarios.get("order_outbox")
    for seed in SEEDS:
        data = _data("order_outbox", seed)
        skus = [o["sku"] for o in data["orders"]]
        assert len(set(skus)) == 2 and len(skus) >= 3
        assert data["resend"] and all(
            sc.RESEND_FROM_MS <= t <= sc.RESEND_TO_MS for t, _ in data["resend"]
        )
        assert all(o["order_id"] not in corr for _, o, corr in data["commands"])
        assert len({corr for _, _, corr in data["commands"]}) == len(data["commands"]) - 1


def test_every_poison_world_has_loud_and_sneaky_poison_a_permanent_and_a_transient_refusal():
    sc = scenarios.get("poison_message")
    rates = set()
    for seed in SEEDS:
        data = _data("poison_message", seed)
        kinds = [e["kind"] for e in data["events"]]
        assert (
            kinds.count("malformed") == 2
            and kinds.count("unknown") == 1
            and kinds.count("good") >= 2
        )
        amounts = [e["data"].get("amount") for e in data["events"] if e["kind"] == "malformed"]
        assert any(isinstance(a, str) and " " in a for a in amounts), "a loud one"
        assert any(
            not (type(a) is int and a > 0) and not (isinstance(a, str) and " " in a)
            for a in amounts
        )
        start, end = data["busy"]
        assert sc.BUSY_MIN_MS <= end - start <= sc.BUSY_MAX_MS and start <= 60
        rates.add(tuple(sorted(data["rates"].items())))
    assert len(rates) == sc.DATA_WORLDS


def test_every_correlation_world_has_random_ids_a_shared_checkout_and_a_shared_sku():
    for seed in SEEDS:
        data = _data("correlation_ids", seed)
        corr = [c for _, _, c in data["commands"]]
        assert len(set(corr)) == len(corr) - 1
        assert len({o["sku"] for _, o, _ in data["commands"]}) < len(corr)
        assert all(o["order_id"] not in c and "corr-" not in c for _, o, c in data["commands"])


# -- invariants as strong as the statements --------------------------------------------------------

REFERENCE_CHARGE = scenarios.get("idempotent_charge").reference_source


def test_a_retry_answered_with_a_new_charge_id_breaks_the_retry_and_charge_invariants():
    report = _grade("idempotent_charge", _variant("idempotent_charge", "new_charge_id_on_replay"))
    assert "retry_gets_same_answer" in _broken(report)
    assert "charge_is_recorded" in _broken(report)


def test_declining_when_the_balance_equals_the_amount_breaks_decline_is_justified():
    source = REFERENCE_CHARGE.replace("if balance < amount:", "if balance <= amount:")
    assert source != REFERENCE_CHARGE
    assert "decline_is_justified" in _broken(_grade("idempotent_charge", source))


def test_charging_without_enough_money_breaks_decline_is_justified():
    source = REFERENCE_CHARGE.replace("if balance < amount:", "if False:")
    assert "decline_is_justified" in _broken(_grade("idempotent_charge", source))


def test_a_charge_row_without_its_debit_breaks_conservation():
    source = REFERENCE_CHARGE.replace(
        'tx.update("accounts", customer, balance=balance - amount)', "pass"
    )
    assert source != REFERENCE_CHARGE
    assert "conservation" in _broken(_grade("idempotent_charge", source))


def test_a_charged_answer_naming_another_orders_charge_breaks_charge_is_recorded():
    source = (
        REFERENCE_CHARGE.replace(
            'saved = tx.get("idempotency", key)',
            'saved = tx.get("idempotency", key) or tx.get("idempotency", "last-" + request.data["customer"])',
        )
        .replace('            if saved["request"] != request.data:', "            if False:")
        .replace(
            '        tx.insert("idempotency", key, {"request": request.data, "response": response})',
            '        tx.insert("idempotency", key, {"request": request.data, "response": response})\n'
            '        tx.put("idempotency", "last-" + customer, {"request": request.data, "response": response})',
        )
    )
    assert "charge_is_recorded" in _broken(_grade("idempotent_charge", source))


@pytest.mark.parametrize(
    "answer,passes",
    [
        ('return {"error": "idempotency key reused with a different payload"}', True),
        ('raise ValueError("idempotency key reused with a different payload")', True),
        ('return {"status": "error", "message": "key reused"}', False),
        ('return {"status": "rejected"}', False),
    ],
)
def test_a_reused_key_must_get_exactly_the_error_the_statement_defines(answer, passes):
    source = REFERENCE_CHARGE.replace(
        'return {"error": "idempotency key reused with a different payload"}', answer
    )
    report = _grade("idempotent_charge", source)
    if passes:
        assert report["status"] == "passed", report["message"]
    else:
        assert "key_reuse_rejected" in _broken(report)


def test_a_decline_not_stored_under_its_key_turns_into_a_charge_after_a_top_up():
    data = _data("idempotent_charge", 0)
    topup = data["customers"]["topup"]
    label = [p["label"] for p in data["payments"] if p["data"]["customer"] == topup][1]
    lost = [{"kind": "reply_lost", "site": f"client:{label}#1>payment.charge"}]
    assert sandbox.replay("idempotent_charge", REFERENCE_CHARGE, 0, lost)["status"] == "passed"
    report = sandbox.replay(
        "idempotent_charge", _variant("idempotent_charge", "forgets_refusal"), 0, lost
    )
    assert _broken(report) == ["retry_gets_same_answer"]
    assert "a refusal must be replayed too" in report["message"]


def test_a_balance_checked_before_the_key_declines_a_retry_of_a_payment_already_taken():
    data = _data("idempotent_charge", 0)
    short = data["customers"]["short"]
    label = [p["label"] for p in data["payments"] if p["data"]["customer"] == short][0]
    lost = [{"kind": "reply_lost", "site": f"client:{label}#1>payment.charge"}]
    assert sandbox.replay("idempotent_charge", REFERENCE_CHARGE, 0, lost)["status"] == "passed"
    report = sandbox.replay(
        "idempotent_charge", _variant("idempotent_charge", "balance_before_key"), 0, lost
    )
    assert _broken(report) == ["retry_gets_same_answer"]


def test_a_key_made_of_the_order_id_replays_the_old_decline_to_the_new_payment():
    report = _grade(
        "idempotent_charge", _variant("idempotent_charge", "keyed_by_order"), schedules=0
    )
    assert _broken(report) == ["decline_is_justified"], "it breaks without any fault"
    assert not report["counterexample"]["schedule"]


def test_a_hard_coded_fx_rate_breaks_the_ledger():
    assert _broken(_grade("poison_message", _variant("poison_message", "hard_coded_rate"))) == [
        "ledger_is_right"
    ]


def test_booking_a_sneaky_malformed_event_breaks_poison_isolation():
    report = _grade("poison_message", _variant("poison_message", "no_validation"))
    assert "poison_isolated" in _broken(report)
    assert "booked in the ledger instead of dead-lettered" in report["message"] or any(
        "booked" in v["detail"] for v in report["violations"]
    )


def test_the_poison_playground_has_poison_only_when_its_toggle_says_so():
    assert playgrounds.run("poison-message", {"poison": False, "dlq": False})["status"] == "passed"
    assert "poison_isolated" in _broken(
        playgrounds.run("poison-message", {"poison": True, "dlq": False})
    )


# -- statements and hints ------------------------------------------------------------------------


def _spec(slug):
    meta = yaml.safe_load((CONTENT / slug / "exercise.yaml").read_text())
    return meta, (CONTENT / slug / "statement.md").read_text()


@pytest.mark.parametrize("slug", sorted(EXERCISES))
def test_what_the_grader_checks_lists_exactly_the_checked_invariants(slug):
    sc = scenarios.get(EXERCISES[slug])
    _, statement = _spec(slug)
    section = statement.split("## What the grader checks", 1)[1].split("\n## ", 1)[0]
    stated = re.findall(r"^- \*\*(.+?)\*\*", section, re.M)
    titles = [sandbox.invariants.describe(n)["title"] for n in sc.checked]
    assert sorted(stated) == sorted(titles)


@pytest.mark.parametrize("slug", sorted(EXERCISES))
def test_statement_numbers_are_the_scenarios_own_constants(slug):
    sc = scenarios.get(EXERCISES[slug])
    _, statement = _spec(slug)
    names = re.findall(r"\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}", statement)
    assert set(names) <= set(sc.statement_constants())
    # No number of milliseconds is typed in by hand: it is rendered from the scenario.
    assert not re.search(r"\b\d+\s*ms\b", re.sub(r"\{\{[^}]*\}\}", "", statement))


# Each hint with code names what to do; following it passes, and each way of not following it fails
# on the invariant the statement promises.
HINTS = [
    (
        "idempotent-payment-api",
        1,
        "before the balance",
        [("balance_before_key", "retry_gets_same_answer")],
    ),
    ("idempotent-payment-api", 1, "a decline too", [("forgets_refusal", "key_reuse_rejected")]),
    (
        "idempotent-payment-api",
        1,
        "same ctx.db.transaction()",
        [("key_saved_separately", "no_double_charge")],
    ),
    ("idempotent-payment-api", 2, "compare it", [("ignores_payload", "key_reuse_rejected")]),
    (
        "idempotent-payment-api",
        2,
        "tx.insert (not tx.put)",
        [("check_then_put", "no_double_charge")],
    ),
    (
        "idempotent-consumer",
        1,
        'event.data["payment_id"]',
        [("dedup_by_event_id", "confirmed_once"), ("dedup_by_correlation_id", "no_lost_event")],
    ),
    (
        "idempotent-consumer",
        1,
        "same ctx.db.transaction()",
        [("dedup_after_effect", "confirmed_once")],
    ),
    ("idempotent-consumer", 2, "tx.outbox(...)", [("publish_after_commit", "no_lost_event")]),
    (
        "order-outbox-relay",
        1,
        "tx.outbox(...)",
        [("commit_then_publish", "no_lost_event"), ("publish_then_commit", "no_ghost_event")],
    ),
    (
        "order-outbox-relay",
        2,
        "order id (not the command id)",
        [("inbox_by_command_id", "no_ghost_event")],
    ),
    (
        "dead-letter-poison-message",
        1,
        "type(amount) is int, amount > 0",
        [("no_validation", "poison_isolated")],
    ),
    (
        "dead-letter-poison-message",
        1,
        "unknown_currency",
        [("retry_unknown_currency", "poison_isolated")],
    ),
    (
        "dead-letter-poison-message",
        2,
        "RetryLater(200)",
        [("transient_to_dlq", "poison_isolated"), ("busy_is_poison", "poison_isolated")],
    ),
    (
        "correlation-id-propagation",
        1,
        "correlation_id=event.correlation_id",
        [
            ("missing_on_call", "correlation_ids_present"),
            ("missing_on_event", "correlation_ids_present"),
        ],
    ),
    (
        "correlation-id-propagation",
        2,
        "never mint a new one",
        [
            ("new_correlation_id", "correlation_ids_present"),
            ("rebuilt_from_order_id", "correlation_ids_present"),
        ],
    ),
]


@pytest.mark.parametrize(
    "slug,index,advice,breaking", HINTS, ids=lambda v: v if isinstance(v, str) else None
)
def test_hint_advice_passes_and_ignoring_it_fails_as_the_hint_says(slug, index, advice, breaking):
    meta, _ = _spec(slug)
    assert advice in meta["hints"][index]
    name = EXERCISES[slug]
    assert _grade(name, scenarios.get(name).reference_source, schedules=100)["status"] == "passed"
    for stem, invariant in breaking:
        assert invariant in _broken(_grade(name, _variant(name, stem), schedules=100)), stem


def test_the_consumer_hint_s_status_guard_alternative_passes():
    meta, _ = _spec("idempotent-consumer")
    assert "check the order's status" in meta["hints"][1]
    source = (SOLUTIONS / "idempotent_consumer" / "status_guard.py").read_text()
    assert _grade("idempotent_consumer", source)["status"] == "passed"
