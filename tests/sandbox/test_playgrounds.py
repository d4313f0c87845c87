"""Lesson playground toggles change the verdict the way the lessons claim."""

import json

import pytest

from sandbox import playgrounds

REPORT_KEYS = {
    "status",
    "message",
    "violations",
    "invariants",
    "seed",
    "schedules_explored",
    "fault_kinds_explored",
    "counterexample",
    "lanes",
    "output",
    "output_dropped",
    "duration_ms",
}


def _run(key, **toggles):
    report = playgrounds.run(key, toggles, seed=0)
    assert REPORT_KEYS <= set(report)
    json.dumps(report)
    return report


def _broken(report):
    return {v["name"] for v in report["violations"]}


@pytest.mark.parametrize("key", sorted(playgrounds.PLAYGROUNDS))
def test_defaults_keep_every_invariant(key):
    report = _run(key)
    assert report["status"] == "passed", report["message"]
    assert report["trace"], "a playground always shows its trace"


@pytest.mark.parametrize("key", sorted(playgrounds.PLAYGROUNDS))
def test_playground_declares_its_toggles(key):
    pg = playgrounds.PLAYGROUNDS[key]
    assert pg["title"] and pg["scenario"]
    for toggle in pg["toggles"]:
        assert set(toggle) == {"name", "label", "kind", "default", "help"}
        assert toggle["kind"] in ("fault", "pattern")


def test_without_outbox_a_crash_after_commit_loses_an_event():
    assert _run("order-saga", crash_after_commit=True)["status"] == "passed"
    assert "no_lost_event" in _broken(_run("order-saga", outbox=False, crash_after_commit=True))


def test_without_outbox_a_publisher_crash_loses_an_event_but_the_relay_just_repeats_it():
    assert _run("order-saga", relay_crash=True)["status"] == "passed"
    assert "no_lost_event" in _broken(_run("order-saga", outbox=False, relay_crash=True))


def test_without_dedup_a_duplicate_delivery_charges_twice():
    assert _run("order-saga", duplicate_delivery=True)["status"] == "passed"
    assert "no_double_charge" in _broken(_run("order-saga", dedup=False, duplicate_delivery=True))


def test_payment_failure_is_compensated():
    report = _run("order-saga", payment_fails=True)
    assert report["status"] == "passed"
    assert any(f["kind"] == "declined" for f in report["counterexample"]["schedule"])


def test_orchestration_without_idempotency_keys_charges_twice_on_a_lost_reply():
    assert _run("order-saga", orchestration=True, duplicate_delivery=True)["status"] == "passed"
    report = _run("order-saga", orchestration=True, dedup=False, duplicate_delivery=True)
    assert "no_double_charge" in _broken(report)
    assert "order" in report["lanes"]


def test_travel_booking_without_compensation_keeps_the_flight():
    assert "cancelled_is_clean" in _broken(_run("travel-booking", compensate=False))


def test_non_idempotent_compensation_refunds_twice_when_its_reply_is_lost():
    assert _run("travel-booking", cancel_reply_lost=True)["status"] == "passed"
    assert "conservation" in _broken(
        _run("travel-booking", idempotent_compensation=False, cancel_reply_lost=True)
    )


def test_idempotency_key_turns_a_retry_into_a_replay():
    assert _run("idempotent-charge", reply_lost=True)["status"] == "passed"
    assert "no_double_charge" in _broken(
        _run("idempotent-charge", idempotency_key=False, reply_lost=True)
    )


def test_coordinator_crash_after_prepare_leaves_participants_blocked():
    report = _run("two-phase-commit", coordinator_crash=True)
    assert "twopc_agreement" in _broken(report)
    assert any(step["kind"] == "blocked" for step in report["trace"])


def test_retry_storm_needs_jitter_backoff_and_a_cap():
    ok = _run("retry-storm")
    assert ok["status"] == "passed" and ok["load"]
    for toggle in ("jitter", "backoff", "cap"):
        assert "retries_bounded_and_spread" in _broken(_run("retry-storm", **{toggle: False})), (
            toggle
        )
    no_jitter = _run("retry-storm", jitter=False)
    # After the first burst, synchronised retries arrive as one wave; jittered ones spread out.
    assert max(n for t, n in no_jitter["load"] if t >= 300) > 2 * max(
        n for t, n in ok["load"] if t >= 300
    )


def test_capturing_before_shipping_is_guaranteed_breaks_the_promise():
    assert "no_charge_without_shipment" in _broken(_run("shipping-down", authorize_first=False))
    assert _run("shipping-down", long_outage=True)["status"] == "passed"


def test_without_a_dead_letter_queue_a_poison_message_blocks_the_queue():
    assert "poison_isolated" in _broken(_run("poison-message", dlq=False))
    assert _run("poison-message", fx_timeout=True)["status"] == "passed"


def test_playground_runs_are_deterministic():
    a = _run("order-saga", dedup=False, duplicate_delivery=True)
    b = _run("order-saga", dedup=False, duplicate_delivery=True)
    assert json.dumps(a["trace"], sort_keys=True) == json.dumps(b["trace"], sort_keys=True)


PLAYGROUND_FILES = {
    ("order-saga", False): "order_saga_choreography",
    ("order-saga", True): "order_saga_orchestration",
    ("travel-booking", False): "travel_booking",
    ("idempotent-charge", False): "idempotent_charge",
    ("retry-storm", False): "retry_storm",
    ("poison-message", False): "poison_message",
}


@pytest.mark.parametrize("key, orchestration", sorted(PLAYGROUND_FILES))
def test_a_playground_file_states_the_default_toggles_at_its_top(key, orchestration):
    # The file is a valid module whose leading flags are the defaults: with default toggles the
    # loader runs it exactly as written (so error line numbers are the file's).
    directory = PLAYGROUND_FILES[key, orchestration]
    toggles = {"orchestration": True} if orchestration else {}
    scenario, source, _ = playgrounds.resolve(key, toggles)
    assert scenario == directory
    assert source == (playgrounds._DIR / directory / "playground.py").read_text()


def test_a_toggle_replaces_only_its_flag_line():
    default = playgrounds.resolve("retry-storm", {})[1].splitlines()
    changed = playgrounds.resolve("retry-storm", {"jitter": False})[1].splitlines()
    assert [i for i, (a, b) in enumerate(zip(default, changed)) if a != b] == [1]
    assert (default[1], changed[1]) == ("JITTER = True", "JITTER = False")
    assert len(default) == len(changed)


def test_the_loader_refuses_a_playground_file_without_the_flags_it_sets(tmp_path, monkeypatch):
    original = (playgrounds._DIR / "retry_storm" / "playground.py").read_text()
    (tmp_path / "retry_storm").mkdir()
    (tmp_path / "retry_storm" / "playground.py").write_text(original.replace("JITTER = True\n", ""))
    monkeypatch.setattr(playgrounds, "_DIR", tmp_path)
    with pytest.raises(ValueError, match="JITTER"):
        playgrounds.resolve("retry-storm", {})
