"""Sentence-level checks of the worked scenarios, replayed with hand-written schedules."""

import sandbox
from sandbox import scenarios

CONSUMER = scenarios.get("idempotent_consumer")


def _replay(name, source, schedule, seed=0):
    return sandbox.replay(name, source, seed, schedule)


def _kinds(report):
    return [step["kind"] for step in report["counterexample"]["trace"]]


def test_duplicate_event_confirms_order_once():
    dup = [{"kind": "duplicate", "site": "order.on_payment_captured:payment-1#1"}]
    ok = _replay("idempotent_consumer", CONSUMER.reference_source, dup)
    assert ok["status"] == "passed"
    assert "duplicate" in _kinds(ok)
    bad = _replay("idempotent_consumer", CONSUMER.variants["no_dedup"][0], dup)
    assert [v["name"] for v in bad["violations"]] == ["confirmed_once"]


def test_crash_between_state_change_and_dedup_record_confirms_twice():
    crash = [{"kind": "crash", "site": "order.on_payment_captured:payment-1#1", "at": 1}]
    assert _replay("idempotent_consumer", CONSUMER.reference_source, crash)["status"] == "passed"
    bad = _replay("idempotent_consumer", CONSUMER.variants["dedup_after_effect"][0], crash)
    assert "confirmed_once" in [v["name"] for v in bad["violations"]]


def test_publishing_outside_the_transaction_loses_the_event_on_a_crash():
    crash = [{"kind": "crash", "site": "order.on_payment_captured:payment-1#1", "at": 1}]
    bad = _replay("idempotent_consumer", CONSUMER.variants["publish_after_commit"][0], crash)
    assert "no_lost_event" in [v["name"] for v in bad["violations"]]


def test_relay_crash_republishes_with_the_same_message_id():
    report = _replay(
        "idempotent_consumer",
        CONSUMER.reference_source,
        [{"kind": "relay_crash", "site": "payment:payment-1#1"}],
    )
    publishes = [
        s
        for s in report["counterexample"]["trace"]
        if s["kind"] == "publish" and s["message_id"] == "payment-1"
    ]
    assert len(publishes) == 2
    assert report["status"] == "passed"


def _shop(name, seed=0):
    """The data set a run of ``name`` with this seed works on (orders, correlation ids, stock, money)."""
    from sandbox.explore import Session, _plan
    from sandbox.runner import InProcessRunner

    sc = scenarios.get(name)
    world, _ = Session(sc, InProcessRunner(sc.reference_source), {}).run(
        _plan(sc, "replay", seed, []), seed
    )
    return world.notes["shop"]


def test_every_trace_step_carries_the_correlation_id_of_its_order():
    report = _replay(
        "order_saga_choreography", scenarios.get("order_saga_choreography").reference_source, []
    )
    steps = [
        s
        for s in report["counterexample"]["trace"]
        if s["kind"] in ("deliver", "publish", "commit")
    ]
    corr = _shop("order_saga_choreography")["corr"]
    assert steps and {s["correlation_id"] for s in steps} == set(corr.values())


def test_orchestrator_timeout_after_the_server_acted_does_not_act_twice():
    sc = scenarios.get("order_saga_orchestration")
    lost = [{"kind": "reply_lost", "site": "order.handle_place_order:cmd-2#1>payment.capture#2"}]
    assert _replay("order_saga_orchestration", sc.reference_source, lost)["status"] == "passed"
    bad = _replay("order_saga_orchestration", sc.variants["no_idempotency_keys"][0], lost)
    # Without keys the retry acts again: a second reservation or capture, or (the stock or the money
    # is gone by then) a cancelled order that still holds the first one.
    assert {"cancelled_is_clean", "confirmed_is_complete", "no_double_charge"} & {
        v["name"] for v in bad["violations"]
    }


def test_declined_payment_releases_the_stock_and_cancels_the_order():
    sc = scenarios.get("order_saga_choreography")
    first = next(iter(_shop("order_saga_choreography")["orders"]))
    declined = [{"kind": "declined", "site": f"payment:{first}"}]
    report = _replay("order_saga_choreography", sc.reference_source, declined)
    assert report["status"] == "passed"
    assert any(s["detail"].startswith("ReleaseStock") for s in report["counterexample"]["trace"])
    bad = _replay("order_saga_choreography", sc.variants["missing_compensation"][0], declined)
    assert "cancelled_is_clean" in [v["name"] for v in bad["violations"]]
