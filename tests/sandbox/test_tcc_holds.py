"""Try-confirm/cancel with holds that expire (issue 18 item 5): the tcc_holds scenario's reference
passes, its starter and each buggy variant fail on the invariant they target, correct solutions
written differently pass, and its playground shows a hold lapsing when the coordinator disappears."""

import re
from pathlib import Path

import pytest

import sandbox
from sandbox import playgrounds
from sandbox.scenarios.tcc_holds import SCENARIO as TCC

NAME = "tcc_holds"
ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = Path(__file__).resolve().parent / "solutions" / NAME
BUGGY = sorted((v, e) for v, (_, e) in TCC.variants.items() if e != "pass")


def _grade(source: str) -> dict:
    return sandbox.grade(NAME, source, seed=0, random_schedules=300)


def test_the_reference_keeps_every_promise():
    report = _grade(TCC.reference_source)
    assert report["status"] == "passed", report["message"]
    assert report["fault_kinds_explored"].get("coordinator_down")


@pytest.mark.parametrize("variant, expected", BUGGY, ids=[v for v, _ in BUGGY])
def test_the_starter_and_each_buggy_checkout_fail_on_their_invariant(variant, expected):
    report = _grade(TCC.variants[variant][0])
    assert report["status"] == "failed", report["message"]
    assert expected in [v["name"] for v in report["violations"]], report["message"]


def test_there_are_five_buggy_variants_besides_the_starter():
    assert len([v for v, _ in BUGGY if v != "starter"]) >= 5


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.stem)
def test_a_correct_checkout_written_differently_passes(path):
    report = _grade(path.read_text())
    assert report["status"] == "passed", report["message"]


def test_a_confirm_after_the_coordinator_was_down_answers_expired_and_the_order_is_cancelled():
    schedule = [{"kind": "coordinator_down", "site": "order"}]
    ok = sandbox.replay(NAME, TCC.reference_source, 0, schedule)
    assert ok["status"] == "passed", ok["message"]
    stuck = sandbox.replay(NAME, TCC.variants["retries_expired_confirm"][0], 0, schedule)
    assert "orders_resolve" in [v["name"] for v in stuck["violations"]]


def test_with_expiring_holds_a_vanished_coordinator_leaves_no_hold_blocking():
    run = playgrounds.run("expiring-holds", {"coordinator_down": True})
    broken = {v["name"] for v in run["violations"]}
    # o1 can never resolve without its checkout, but the stock it held comes back by itself.
    assert broken == {"orders_resolve", "settles"}
    assert any(s["kind"] == "expired" and "lapsed by itself" in s["detail"] for s in run["trace"])


def test_without_expiry_a_vanished_coordinator_leaves_the_stock_blocked_for_ever():
    run = playgrounds.run("expiring-holds", {"coordinator_down": True, "holds_expire": False})
    assert {v["name"] for v in run["violations"]} == {"orders_resolve", "holds_released", "settles"}


def test_a_deadline_longer_than_the_hold_makes_the_confirm_arrive_too_late():
    run = playgrounds.run("expiring-holds", {"deadline_within_hold": False})
    assert [v["name"] for v in run["violations"]] == ["decided_within_hold"]
    assert playgrounds.run("expiring-holds", {})["status"] == "passed"


def test_the_deadlines_the_toggle_help_quotes_are_the_playground_code_s():
    holds = min(TCC.STOCK_HOLD_MS, TCC.CARD_HOLD_MS)
    (toggle,) = [
        t
        for t in playgrounds.PLAYGROUNDS["expiring-holds"]["toggles"]
        if t["name"] == "deadline_within_hold"
    ]
    for on, within in ((True, True), (False, False)):
        _, source, _ = playgrounds.resolve("expiring-holds", {"deadline_within_hold": on})
        flag = re.search(r"^DEADLINE_WITHIN_HOLD = (True|False)$", source, re.M).group(1)
        picked = re.search(r"^DECIDE_WITHIN_MS = (\d+) if \w+ else (\d+)", source, re.M)
        deadline = int(picked.group(1 if flag == "True" else 2))
        assert (deadline < holds) is within and deadline > TCC.PATIENCE_MS
        assert f"{deadline / 1000:g} s" in toggle["help"]


def test_the_numbers_the_lesson_quotes_are_the_playground_s():
    lesson = (ROOT / "lessons" / "content" / "13-holds-that-expire.md").read_text()
    text = " ".join(lesson.split())  # line breaks in the prose are spaces
    source = (ROOT / "sandbox" / "scenarios" / NAME / "playground.py").read_text()
    within, beyond = map(
        int, re.search(r"^DECIDE_WITHIN_MS = (\d+) if \w+ else (\d+)", source, re.M).groups()
    )
    retry = int(re.search(r"^RETRY_MS = (\d+)", source, re.M).group(1))
    assert f"down for the first {TCC.PLAYGROUND_OUTAGE_MS / 1000:g} seconds" in text
    assert f"returns after {TCC.PLAYGROUND_OUTAGE_MS / 1000:g} seconds" in text
    assert f"retries every {retry} ms until its own deadline, {within / 1000:g} seconds" in text
    assert f"keeps units for {TCC.STOCK_HOLD_MS // 1000} seconds" in text
    assert f"an authorization for {TCC.CARD_HOLD_MS // 1000}." in text
    assert f"by themselves after {TCC.STOCK_HOLD_MS // 1000} seconds" in text
    assert f"held first and lasts {TCC.STOCK_HOLD_MS // 1000} seconds" in text
    assert f"for up to {beyond // 1000} seconds" in text
