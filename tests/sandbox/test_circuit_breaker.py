"""The circuit breaker world: its data families are there in every data set, calls take time, state
must live in ctx.db, and each invariant measures exactly what the statement says."""

import ast

import pytest

import sandbox
from sandbox import playgrounds, scenarios
from sandbox.explore import Session, _plan
from sandbox.runner import InProcessRunner

CB = scenarios.get("circuit_breaker")
LONG = [{"kind": "outage", "site": "inventory:long"}]


def _run(source=None, seed=0, schedule=()):
    session = Session(CB, InProcessRunner(source or CB.reference_source), {})
    return session.run(_plan(CB, "replay", seed, list(schedule)), seed)


def _data_sets(source=None, schedule=()):
    """One run of each data set: {index: (world, broken)}."""
    found = {}
    session = Session(CB, InProcessRunner(source or CB.reference_source), {})
    for seed in range(200):
        world, broken = session.run(_plan(CB, "replay", seed, list(schedule)), seed, tracing=False)
        found.setdefault(world.notes["data"][0]["index"], (world, broken))
        if len(found) == CB.DATA_WORLDS:
            return found
    raise AssertionError(f"only data sets {sorted(found)} reached")


def _module_constants(source):
    tree = ast.parse(source)
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.isupper()
    }


# -- the world -------------------------------------------------------------------------------------


def test_every_data_set_fails_recovers_and_fails_again_with_its_own_timing():
    timings = set()
    for world, _ in _data_sets().values():
        d = world.notes["data"][0]
        assert CB.FIRST_FAILURE_FROM_MS <= d["down"] <= CB.FIRST_FAILURE_TO_MS
        assert CB.OUTAGE_MIN_MS <= d["up"] - d["down"] <= CB.OUTAGE_MAX_MS
        assert CB.HEALTHY_MIN_MS <= d["brownout"] - d["up"] <= CB.HEALTHY_MAX_MS
        assert CB.BROWNOUT_MIN_MS <= d["over"] - d["brownout"] <= CB.BROWNOUT_MAX_MS
        assert CB.HEALTHY_MIN_MS <= d["end"] - d["over"] <= CB.HEALTHY_MAX_MS
        timings.add((d["down"], d["up"], d["brownout"], d["over"]))
    assert len(timings) == CB.DATA_WORLDS


def test_requests_arrive_steadily_with_ids_that_cannot_be_guessed():
    for world, _ in _data_sets().values():
        requests = world.notes["data"][0]["requests"]
        gaps = [b["t"] - a["t"] for a, b in zip(requests, requests[1:])]
        assert min(gaps) >= CB.GAP_MIN_MS and max(gaps) <= CB.GAP_MAX_MS
        assert len({r["id"] for r in requests}) == len(requests)
        assert len({r["correlation_id"] for r in requests}) == len(requests)


def test_the_brownout_fails_most_calls_in_runs_between_single_successes():
    for world, _ in _data_sets().values():
        d = world.notes["data"][0]
        fates = [r["brownout_ok"] for r in d["requests"] if d["brownout"] <= r["t"] < d["over"]]
        assert fates[0] is True
        runs = "".join("S" if ok else "F" for ok in fates).split("S")[1:-1]
        assert runs and all(CB.BROWNOUT_RUN_MIN <= len(run) <= CB.BROWNOUT_RUN_MAX for run in runs)
        # never two successes in a row: TRIAL_CALLS trial calls can never all pass in a brownout
        assert "SS" not in "".join("S" if ok else "F" for ok in fates)


def test_isolated_errors_come_only_while_inventory_is_settled_and_never_close_together():
    for world, _ in _data_sets().values():
        d = world.notes["data"][0]
        flaky = [i for i, r in enumerate(d["requests"]) if r["flaky"]]
        assert all(b - a >= CB.FLAKE_EVERY_MIN for a, b in zip(flaky, flaky[1:]))
        settled = [
            (0, d["down"]),
            (d["up"] + CB.RETURN_MS, d["brownout"]),
            (d["over"] + CB.RETURN_MS, d["end"]),
        ]
        times = [d["requests"][i]["t"] for i in flaky]
        assert all(any(a <= t < b for a, b in settled) for t in times)
        # every settled stretch has one: a breaker that never forgets a failure trips in each
        assert all(any(a <= t < b for t in times) for a, b in settled)


def test_a_call_to_a_down_inventory_hangs_until_its_timeout_and_a_healthy_one_is_quick():
    world, broken = _run()
    assert not broken
    down, up, _ = world.notes["periods"][0]
    sent = {rid: t for kind, t, rid, _ in world.notes["events"] if kind == "sent"}
    waits = {
        rid: (sent[rid], t - sent[rid], ok)
        for kind, t, rid, ok in world.notes["events"]
        if kind == "reply"
    }
    assert {wait for at, wait, _ in waits.values() if down <= at < up} == {CB.CALL_TIMEOUT_MS}
    quick = [wait for at, wait, ok in waits.values() if ok]
    assert quick and all(CB.LATENCY_MIN_MS <= w <= CB.LATENCY_MAX_MS for w in quick)


def test_the_outage_fault_keeps_the_second_failure_going_until_the_traffic_stops():
    world, broken = _run(schedule=LONG)
    assert not broken
    assert world.notes["periods"][1][1] == CB.NEVER
    assert world.plan.fired == LONG


def test_the_report_carries_the_load_on_inventory():
    report = sandbox.grade("circuit_breaker", CB.reference_source, random_schedules=5)
    assert report["status"] == "passed"
    assert report["load"] and all(len(point) == 2 for point in report["load"])


# -- the learner's side ---------------------------------------------------------------------------

GLOBAL_STATE = """
FAILURES = []
OPENED_AT = []


def allow_request(request, ctx):
    # A breaker kept in module globals: forgotten after every call.
    if OPENED_AT and ctx.now - OPENED_AT[-1] < 1500:
        return False
    return True


def record_result(result, ctx):
    FAILURES.append(not result.data["ok"])
    if sum(FAILURES[-10:]) >= 5:
        OPENED_AT.append(ctx.now)
"""


def test_a_breaker_kept_in_module_globals_forgets_everything_and_never_opens():
    report = sandbox.grade("circuit_breaker", GLOBAL_STATE, random_schedules=5)
    assert report["status"] == "failed"
    assert "bounded_load_while_failing" in [v["name"] for v in report["violations"]]


def test_allow_request_must_answer_true_or_false():
    source = CB.reference_source.replace("    return True  ", "    return 'yes'  ")
    assert source != CB.reference_source
    report = sandbox.grade("circuit_breaker", source, random_schedules=0)
    assert report["status"] == "error"
    assert "allow_request() returned 'yes'" in report["message"]


def test_an_exception_in_allow_request_fails_the_request_fast_and_is_shown():
    source = CB.starter_source.replace("    return True", "    raise ValueError('no breaker yet')")
    report = sandbox.grade("circuit_breaker", source, random_schedules=0)
    assert report["status"] == "failed"
    assert "traffic_returns_after_recovery" in [v["name"] for v in report["violations"]]
    assert "ValueError: no breaker yet" in report["message"]


def test_the_reference_uses_the_breaker_the_statement_describes():
    constants = _module_constants(CB.reference_source)
    for name in ("WINDOW_SIZE", "MIN_CALLS", "FAILURE_RATE_PERCENT", "OPEN_MS", "TRIAL_CALLS"):
        assert constants[name] == getattr(CB, name), name
    playground = (playgrounds._DIR / "circuit_breaker" / "playground.py").read_text()
    assert _module_constants(playground) == {
        "BREAKER": True,
        "TRIAL_LIMIT": True,
        "WINDOW": True,
        **{name: constants[name] for name in constants},
    }


# -- the invariants measure what the statement says ---------------------------------------------


def _facts(events, periods=((1000, 5000, "down"),), end=20_000):
    return {
        "bounded_load_while_failing": CB._bounded_load(list(events), list(periods)),
        "fails_fast_while_open": CB._fails_fast(list(events)),
        "traffic_returns_after_recovery": CB._traffic_returns(list(events), list(periods), end),
        "no_storm_at_reopening": CB._no_storm(list(events)),
    }


def test_load_counts_only_after_the_breaker_had_time_to_notice_in_a_sliding_window():
    start = 1000 + CB.DETECT_MS
    early = [("sent", 1000 + i * 50, f"r{i}", None) for i in range(20)]  # before DETECT_MS: free
    assert _facts(early)["bounded_load_while_failing"] == []
    limit = [("sent", start + 400 + i * 100, f"r{i}", None) for i in range(CB.LOAD_LIMIT)]
    assert _facts(limit)["bounded_load_while_failing"] == []
    # one more, inside the same LOAD_WINDOW_MS though it straddles two seconds
    over = limit + [("sent", start + 400 + CB.LOAD_WINDOW_MS - 1, "rx", None)]
    assert _facts(over)["bounded_load_while_failing"]
    spread = limit + [("sent", start + 400 + CB.LOAD_WINDOW_MS, "rx", None)]
    assert _facts(spread)["bounded_load_while_failing"] == []


def test_fail_fast_applies_after_trip_after_failures_in_a_row_for_min_open_ms():
    fails = [("reply", 2000 + i, f"r{i}", False) for i in range(CB.TRIP_AFTER)]
    last = 2000 + CB.TRIP_AFTER - 1
    assert _facts(fails + [("sent", last + CB.MIN_OPEN_MS - 1, "x", None)])["fails_fast_while_open"]
    assert not _facts(fails + [("sent", last + CB.MIN_OPEN_MS, "x", None)])["fails_fast_while_open"]
    # a success in between breaks the run
    broken_run = fails[:-1] + [("reply", last, "ok", True), ("sent", last + 1, "x", None)]
    assert not _facts(broken_run)["fails_fast_while_open"]
    one_short = fails[:-1] + [("sent", last + 1, "x", None)]
    assert not _facts(one_short)["fails_fast_while_open"]


def test_traffic_must_be_back_return_ms_after_recovery():
    up = 5000
    refused_early = [("refused", up + i * 100, f"a{i}", None) for i in range(CB.RETURN_MS // 100)]
    served = [("sent", up + CB.RETURN_MS + i * 100, f"b{i}", None) for i in range(20)]
    assert not _facts(refused_early + served)["traffic_returns_after_recovery"]
    refused_late = [("refused", up + CB.RETURN_MS + 5, "c", None)] * 3
    assert _facts(refused_early + served + refused_late)["traffic_returns_after_recovery"]
    # from the start too, before the first failure
    assert _facts([("refused", 10, "d", None), ("sent", 20, "e", None)])[
        "traffic_returns_after_recovery"
    ]


def test_a_storm_is_more_than_trial_calls_sent_before_any_answer_after_a_refusal():
    refusal = [("refused", 100, "r0", None)]
    trials = [("sent", 200 + i, f"t{i}", None) for i in range(CB.TRIAL_CALLS)]
    assert not _facts(refusal + trials)["no_storm_at_reopening"]
    assert _facts(refusal + trials + [("sent", 300, "x", None)])["no_storm_at_reopening"]
    # an answer (success or failure) ends the count; a closed breaker may send freely after it
    answered = (
        refusal
        + trials
        + [("reply", 250, "t0", False)]
        + [("sent", 300 + i, "y", None) for i in range(5)]
    )
    assert not _facts(answered)["no_storm_at_reopening"]
    # without a refusal (a closed breaker) any number of calls may be out at once
    assert not _facts([("sent", 100 + i, f"z{i}", None) for i in range(10)])[
        "no_storm_at_reopening"
    ]


# -- the playground -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toggles, broken",
    [
        ({}, set()),
        ({"stays_down": True}, set()),
        ({"breaker": False}, {"bounded_load_while_failing", "fails_fast_while_open"}),
        ({"trial_limit": False}, {"no_storm_at_reopening"}),
        ({"window": False}, {"traffic_returns_after_recovery"}),
    ],
)
def test_the_playground_toggles_break_what_they_name(toggles, broken):
    report = playgrounds.run("circuit-breaker", toggles, seed=1)
    assert {v["name"] for v in report["violations"]} == broken
    assert report["trace"] and report["load"]
