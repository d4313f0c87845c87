"""The outbox_relay scenario: the learner's relay against concurrent instances, crashes between
publish and mark, a relay that stops for good, and rows that commit out of key order."""

import random

import pytest

import sandbox
from sandbox import playgrounds, scenarios
from sandbox.explore import Session, _plan
from sandbox.runner import InProcessRunner

SC = scenarios.get("outbox_relay")


def grade(source, schedules=150):
    return sandbox.grade("outbox_relay", source, seed=0, random_schedules=schedules)


def broken(report):
    return [v["name"] for v in report["violations"]]


def calm_world(source=None):
    session = Session(SC, InProcessRunner(source or SC.reference_source), {})
    world, problems = session.run(_plan(SC, "none", 0), 0)
    return world, problems


class _Seeded:
    def __init__(self, seed):
        self.rng = random.Random(seed)


@pytest.mark.parametrize("seed", range(24))
def test_every_data_set_has_a_late_commit_a_gap_and_events_close_together(seed):
    data = SC.data(_Seeded(seed))
    events = data["events"]
    keys = [e["key"] for e in events]
    # A key that never commits (a rolled-back transaction).
    numbers = sorted(int(k) for k in keys)
    assert len(numbers) < numbers[-1]
    # An earlier key committing more than a poll interval after a later key of another order.
    assert any(
        a["key"] < b["key"] and a["order_id"] != b["order_id"] and a["t"] - b["t"] > SC.POLL_MS
        for a in events
        for b in events
    )
    # One order's events follow each other in key order, some within one poll interval.
    for order in {e["order_id"] for e in events}:
        mine = [e for e in events if e["order_id"] == order]
        assert [e["key"] for e in mine] == sorted(e["key"] for e in mine)
        assert [e["t"] for e in mine] == sorted(e["t"] for e in mine)
    assert any(
        a["order_id"] == b["order_id"] and b["k"] == a["k"] + 1 and b["t"] - a["t"] < SC.POLL_MS
        for a in events
        for b in events
    )


def test_the_reference_delivers_every_event_once_and_in_order_in_a_calm_run():
    world, problems = calm_world()
    assert problems == {}
    published = [m["data"]["event_id"] for m in world.broker.published]
    committed = [e["data"]["event_id"] for e in world.notes["data"][0]["events"]]
    assert sorted(published) == sorted(committed)


def test_two_relays_read_the_same_outbox_and_their_commits_can_collide():
    world, _ = calm_world()
    kinds = {(s["service"], s["kind"]) for s in world.trace.steps}
    assert ("relay-1", "publish") in kinds and ("relay-2", "publish") in kinds
    assert any(s["kind"] == "conflict" for s in world.trace.steps)


def test_a_relay_that_publishes_nothing_loses_every_event():
    report = grade("def relay_tick(tick, ctx):\n    return None\n", schedules=0)
    assert "no_lost_event" in broken(report)


def test_a_relay_that_never_marks_rows_floods_consumers_and_the_run_still_ends():
    source = (
        "def relay_tick(tick, ctx):\n"
        "    for key, row in ctx.db.find('outbox', sent=False):\n"
        "        ctx.publish(row['type'], row['data'], correlation_id=row['correlation_id'])\n"
    )
    report = grade(source, schedules=0)
    assert report["status"] == "failed"
    assert "duplicates_only_after_crash" in broken(report)
    assert "settles" not in broken(report)


def test_a_cursor_kept_in_a_module_global_is_forgotten_between_ticks():
    source = (
        "SEEN = set()\n\n\n"
        "def relay_tick(tick, ctx):\n"
        "    for key, row in ctx.db.find('outbox'):\n"
        "        if key in SEEN:\n"
        "            continue\n"
        "        SEEN.add(key)\n"
        "        ctx.publish(row['type'], row['data'], correlation_id=row['correlation_id'])\n"
    )
    assert "duplicates_only_after_crash" in broken(grade(source, schedules=0))


def test_a_crash_between_publish_and_mark_allows_exactly_one_repeat():
    crash = {"kind": "crash", "site": "relay-1.relay_tick:tick@100#1", "at": 2}
    report = sandbox.replay("outbox_relay", SC.reference_source, 0, [crash])
    assert report["status"] == "passed", report["message"]
    publishes = [s for s in report["counterexample"]["trace"] if s["kind"] == "publish"]
    committed = {
        s["message_id"] for s in report["counterexample"]["trace"] if s["kind"] == "commit"
    }
    assert len(publishes) == len([m for m in committed if m.startswith("evt-")]) + 1


def test_ignoring_another_relays_live_claim_publishes_its_row_twice():
    source = SC.reference_source.replace('last["owner"] != me', 'last["owner"] == me')
    report = grade(source)
    assert report["status"] == "failed"
    assert broken(report) == ["duplicates_only_after_crash"]


def test_claims_keyed_by_the_tick_time_do_not_keep_two_relays_apart():
    # The instances of a round tick a few ms apart, so a claim per (row, now) never collides.
    source = (
        "def relay_tick(tick, ctx):\n"
        "    for key, row in ctx.db.find('outbox', sent=False):\n"
        "        with ctx.db.transaction() as tx:\n"
        "            tx.insert('claims', key + '@' + str(ctx.now), {})\n"
        "        ctx.publish(row['type'], row['data'], correlation_id=row['correlation_id'])\n"
        "        with ctx.db.transaction() as tx:\n"
        "            tx.update('outbox', key, sent=True)\n"
    )
    assert "duplicates_only_after_crash" in broken(grade(source))


def test_a_relay_that_stops_for_good_is_one_of_the_faults_explored():
    report = grade(SC.reference_source)
    assert report["status"] == "passed", report["message"]
    assert set(report["fault_kinds_explored"]) == {"crash", "outage"}


def test_relabelled_events_are_ghosts():
    source = SC.reference_source.replace('ctx.publish(row["type"]', 'ctx.publish("OrderPaid"')
    assert broken(grade(source, schedules=0)) == ["no_ghost_event"]


def test_playground_defaults_hold_and_two_relays_without_claims_publish_twice():
    assert playgrounds.run("outbox-relay", {})["status"] == "passed"
    report = playgrounds.run("outbox-relay", {"claim": False})
    assert broken(report) == ["duplicates_only_after_crash"]
    assert playgrounds.run("outbox-relay", {"claim": False, "two_relays": False})["status"] == (
        "passed"
    )


@pytest.mark.parametrize("claim", [True, False])
def test_playground_crash_between_publish_and_mark_repeats_one_event_and_holds(claim):
    toggles = {"relay_crash": True, "claim": claim, "two_relays": claim}
    report = playgrounds.run("outbox-relay", toggles)
    assert report["status"] == "passed", report["message"]
    trace = report["trace"]
    crash = next(s for s in trace if s["kind"] == "crash")
    assert crash["service"] == "relay-1"
    ids = [s["detail"].split("event_id=")[1].split(",")[0] for s in trace if s["kind"] == "publish"]
    assert len(ids) == len(set(ids)) + 1
