"""Late answers after a timeout decided: the choreography's order timeout and the late_answer fault,
and the unknown-outcome checkout with its tombstone (issue 17 item 3, issue 18 item 5)."""

import re
from pathlib import Path

import sandbox
from sandbox import playgrounds, scenarios
from sandbox.scenarios.unknown_outcome import SCENARIO as UNKNOWN

CHOREO = "order_saga_choreography"
LESSON = Path(__file__).resolve().parents[2] / "lessons" / "content" / "11-unknown-outcomes.md"


def _late(site_part: str) -> list[list[dict]]:
    """Each single late_answer fault of a calm seed-0 run whose site contains ``site_part``."""
    schedules = [
        [f] for f in _discovered_sites() if f["kind"] == "late_answer" and site_part in f["site"]
    ]
    assert schedules, site_part
    return schedules


def _discovered_sites() -> list[dict]:
    from sandbox.explore import Session, _plan
    from sandbox.runner import InProcessRunner

    sc = scenarios.get(CHOREO)
    session = Session(sc, InProcessRunner(sc.reference_source), {})
    world, _ = session.run(_plan(sc, "discover", 0), 0)
    return world.plan.sites


def _broken(source: str, schedule: list[dict]) -> list[str]:
    return [v["name"] for v in sandbox.replay(CHOREO, source, 0, schedule)["violations"]]


def test_a_payment_answer_held_past_the_timeout_breaks_the_old_reference_and_the_pending_guard():
    sc = scenarios.get(CHOREO)
    schedule = _late(">order.on_payment_succeeded")[0]
    assert _broken(sc.variants["confirms_late_success"][0], schedule) == ["confirmed_is_complete"]
    assert _broken(sc.variants["drops_late_success"][0], schedule) == ["cancelled_is_clean"]
    assert _broken(sc.reference_source, schedule) == []


def test_a_reservation_made_after_the_timeout_is_released_by_the_late_success():
    sc = scenarios.get(CHOREO)
    schedules = _late(">inventory.on_order_created")
    assert all(_broken(sc.reference_source, schedule) == [] for schedule in schedules)
    variant = sc.variants["refund_without_release"][0]
    assert any("cancelled_is_clean" in _broken(variant, schedule) for schedule in schedules)


def test_an_order_the_timeout_cancels_without_a_late_message_counts_as_stuck():
    sc = scenarios.get(CHOREO)
    report = sandbox.grade(CHOREO, sc.variants["no_outbox"][0], random_schedules=50)
    resolve = [v for v in report["violations"] if v["name"] == "orders_resolve"]
    assert resolve and "was stuck: its timeout had to cancel it" in resolve[0]["detail"]


def test_a_world_without_a_saga_timeout_never_fires_a_late_answer():
    # Only a scenario that tells its broker how long its timeout is (Broker.late_after) can hold a
    # message back past it; the orchestrated saga's calls have their own late_reply instead.
    report = sandbox.grade(
        "order_saga_orchestration",
        scenarios.get("order_saga_orchestration").reference_source,
        random_schedules=20,
    )
    assert "late_answer" not in report["fault_kinds_explored"]
    assert report["fault_kinds_explored"].get("late_reply")


def test_the_late_payment_playground_refunds_a_success_that_comes_after_the_timeout():
    report = playgrounds.run("late-payment", {}, 1)
    assert report["status"] == "passed"
    details = [(s["kind"], s["detail"]) for s in report["trace"]]
    timed_out = next(i for i, (k, d) in enumerate(details) if "OrderTimeout -> " in d)
    refunded = next(i for i, (k, d) in enumerate(details) if "payments/o1 status=REFUNDED" in d)
    assert timed_out < refunded
    dropped = playgrounds.run("late-payment", {"refund_late_success": False}, 1)
    assert [v["name"] for v in dropped["violations"]] == ["cancelled_is_clean"]
    assert (
        "o1 is CANCELLED but 40 of alice's money is still captured"
        in (dropped["violations"][0]["detail"])
    )
    assert playgrounds.run("late-payment", {"order_timeout": False}, 1)["status"] == "passed"


def test_the_unknown_outcome_playground_refuses_the_slow_capture_by_its_tombstone():
    report = playgrounds.run("unknown-outcome", {}, 1)
    assert report["status"] == "passed"
    late = f"t={UNKNOWN.PLAYGROUND_OUTAGE_MS}"
    assert any(late in s["detail"] for s in report["trace"])
    replies = [s for s in report["trace"] if s["kind"] == "reply" and s["t"] > 4000]
    assert any("status=cancelled" in s["detail"] for s in replies)
    for toggle in ("tombstone", "retry_compensation"):
        broken = playgrounds.run("unknown-outcome", {toggle: False}, 1)
        assert [v["name"] for v in broken["violations"]] == ["cancelled_is_clean"], toggle
    assert playgrounds.run("unknown-outcome", {"payment_down": False}, 1)["status"] == "passed"


def test_lesson_11_quotes_the_unknown_outcome_playgrounds_numbers():
    text = LESSON.read_text()
    source = (Path(sandbox.__file__).parent / "scenarios/unknown_outcome/playground.py").read_text()
    give_up = int(re.search(r"^GIVE_UP_MS = (\d+)", source, re.M).group(1))
    retry = int(re.search(r"^RETRY_MS = (\d+)", source, re.M).group(1))
    assert f"down for the first {UNKNOWN.PLAYGROUND_OUTAGE_MS // 1000} s" in text
    assert f"reaches Payment {UNKNOWN.PLAYGROUND_LATE_MS / 1000:g} s later" in text
    assert f"keeps trying for {give_up // 1000} s" in text
    assert f"retries\n{retry} ms after the timeout" in text or f"retries {retry} ms" in text


def test_a_cancellation_on_the_first_timeout_is_no_reason_in_the_unknown_outcome_world():
    sc = scenarios.get("unknown_outcome")
    report = sandbox.grade(
        "unknown_outcome", sc.variants["cancel_on_timeout"][0], random_schedules=0
    )
    reason = next(v for v in report["violations"] if v["name"] == "cancelled_for_a_reason")
    assert f"no reason to cancel before {UNKNOWN.PATIENCE_MS} ms" in reason["detail"]
