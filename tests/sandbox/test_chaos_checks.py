"""The chaos test the learner writes: their checks must accept the correct order saga on every schedule
explored and catch each hidden buggy saga with a message that names what it saw."""

import json
import re

import pytest

import sandbox
from sandbox import scenarios
from sandbox.faults import FaultPlan
from sandbox.jail import JailRunner, jail_available
from sandbox.runner import InProcessRunner, Limits
from sandbox.scenarios.chaos_checks import HIDDEN, TARGET, _target_run
from sandbox.world import Cache, World

SC = scenarios.get("chaos_checks")
REFERENCE = SC.reference_source


def grade(source, **kw):
    return sandbox.grade("chaos_checks", source, seed=kw.pop("seed", 0), **kw)


def with_faults(faults):
    return REFERENCE.replace(
        'FAULTS = "crash, duplicate, delay, relay_crash, out_of_stock, declined, late_answer"',
        f"FAULTS = {faults!r}",
    )


def test_the_reference_checks_pass_and_say_every_hidden_bug_was_caught():
    report = grade(REFERENCE)
    assert report["status"] == "passed", report["message"]
    assert f"caught all {len(HIDDEN)} hidden bugs" in report["message"]
    assert all(inv["held"] for inv in report["invariants"])


@pytest.mark.parametrize("seed", [1, 7])
def test_the_reference_checks_pass_on_other_data_sets(seed):
    assert grade(REFERENCE, seed=seed)["status"] == "passed"


@pytest.mark.parametrize(
    "variant", [v for v, (_, e) in SC.variants.items() if e != "pass"], ids=str
)
def test_each_buggy_set_of_checks_fails_on_its_named_invariant(variant):
    source, expected = SC.variants[variant]
    report = grade(source)
    assert report["status"] == "failed", report["message"]
    assert report["violations"][0]["name"] == expected, report["message"]


def test_the_starter_misses_bugs_and_names_one_in_words_without_its_code():
    report = grade(SC.starter_source)
    assert report["status"] == "failed"
    assert "went unnoticed" in report["message"]
    assert any(words in report["message"] for words, _ in HIDDEN.values())
    for variant in HIDDEN:  # the hidden variants stay hidden: no file name, no code
        assert variant not in report["message"]
        assert variant not in report["violations"][0]["detail"]


def test_without_faults_the_verdict_says_no_chosen_fault_can_make_the_bug_show():
    report = grade(with_faults(""))
    assert report["status"] == "failed"
    assert "none of your FAULTS can make this bug show" in report["message"]


def test_crashes_and_late_answers_reveal_every_hidden_bug_to_good_checks():
    # A crash before the acknowledgement redelivers: duplicates come with crashes for free.
    assert grade(with_faults("crash, late_answer"))["status"] == "passed"
    # But a payment that succeeds after the order's timeout needs the late answer itself.
    report = grade(with_faults("crash"))
    assert report["status"] == "failed"
    assert "order's timeout" in report["message"] and "none of your FAULTS" in report["message"]


def test_a_false_alarm_shows_the_schedule_and_the_reference_trace():
    report = grade(SC.variants["no_duplicate_events"][0])
    assert report["status"] == "failed"
    assert report["violations"][0]["name"] == "no_false_alarm"
    assert "relay crashed after publishing" in report["message"]
    trace = report["counterexample"]["trace"]
    assert trace and {"order", "inventory", "payment"} <= {s["service"] for s in trace}


def test_a_check_that_raises_on_the_correct_saga_is_a_false_alarm_with_the_error():
    source = "FAULTS = 'crash'\n\ndef check(run):\n    return [run['no such key']]\n"
    report = grade(source)
    assert report["status"] == "failed"
    assert report["violations"][0]["name"] == "no_false_alarm"
    assert "KeyError" in report["message"]


def test_a_check_that_returns_something_else_than_messages_is_refused():
    report = grade("FAULTS = 'crash'\n\ndef check(run):\n    return 42\n")
    assert report["status"] == "failed"
    assert "must return a list of messages" in report["message"]


def test_a_vague_complaint_does_not_count_as_catching_a_bug():
    report = grade(SC.variants["vague_messages"][0])
    assert report["violations"][0]["name"] == "every_bug_caught"
    assert "names no order" in report["message"]


def test_faults_must_come_from_the_menu_and_be_a_string():
    report = grade(with_faults("crash, partition"))
    assert report["violations"][0]["name"] == "faults_from_the_menu"
    assert "'partition'" in report["message"]
    bad = REFERENCE.replace("FAULTS = ", "FAULTS = 3  # ", 1)
    assert grade(bad)["violations"][0]["name"] == "faults_from_the_menu"


def test_a_module_without_check_is_told_to_define_it():
    report = grade("FAULTS = 'crash'\n")
    assert report["status"] == "failed" and "check(run)" in report["message"]


def test_the_report_counts_the_saga_runs_of_the_experiment_and_is_the_same_twice():
    first, second = grade(REFERENCE), grade(REFERENCE)
    # Every run of the correct saga, plus the runs of each hidden one until it was caught.
    assert first["schedules_explored"] > SC.DATA_SEEDS * (1 + SC.RANDOM_RUNS)
    on_reference = int(re.search(r"on all (\d+) schedules", first["message"]).group(1))
    assert 0 < on_reference < first["schedules_explored"]
    assert set(first["fault_kinds_explored"]) == set(SC.MENU)
    first.pop("duration_ms"), second.pop("duration_ms")
    assert first == second


def test_every_hidden_bug_breaks_an_invariant_of_the_saga_itself():
    """The hidden set is made of the target's own known-buggy variants: each is a real bug."""
    target = scenarios.get(TARGET)
    for name in HIDDEN:
        assert target.variants[name][1] != "pass", name


def test_a_run_is_plain_json_with_the_documented_keys():
    target = scenarios.get(TARGET)
    runner = InProcessRunner(target.reference_source, Limits())
    plan = FaultPlan("discover", 3, None, kinds=("crash",), horizon=target.fault_horizon)
    outer = World(SC, runner, runner, FaultPlan("none"), 0, Cache())
    run = _target_run(target, runner, Cache(), plan, 3, outer)
    assert set(run) == {
        "faults",
        "orders",
        "initial",
        "stores",
        "events",
        "dead_letters",
        "settled",
        "trace",
    }
    assert json.loads(json.dumps(run)) == run
    assert run["settled"]
    # Only the contract's tables: how a service dedups (its inbox) is not for a check to judge.
    assert {service: set(tables) for service, tables in run["stores"].items()} == {
        "order": {"orders"},
        "inventory": {"stock", "reservations"},
        "payment": {"accounts", "payments"},
    }
    assert {"order_id", "customer", "sku", "qty", "amount", "correlation_id"} <= set(
        run["orders"][0]
    )


@pytest.mark.skipif(not jail_available()[0], reason="bubblewrap jail not available here")
def test_the_checks_run_in_the_jail_and_the_verdict_is_the_same():
    jailed = grade(REFERENCE, runner_factory=JailRunner)
    assert jailed["status"] == "passed", jailed["message"]
    assert grade(SC.starter_source, runner_factory=JailRunner)["status"] == "failed"


@pytest.mark.skipif(not jail_available()[0], reason="bubblewrap jail not available here")
def test_a_check_cannot_pass_by_printing_or_exiting():
    source = (
        "FAULTS = 'crash'\nimport sys\n\ndef check(run):\n    print('passed')\n    sys.exit(0)\n"
    )
    report = grade(source, runner_factory=JailRunner)
    assert report["status"] != "passed"
