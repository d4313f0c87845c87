"""The typed grading report (sandbox/report.py) describes exactly the reports the sandbox returns,
and its enums stay plain strings for JSON, templates and comparisons."""

import json
import typing

import pytest

import sandbox
from sandbox import playgrounds, report, scenarios
from sandbox.isolated import _failure


def _keys(td: type) -> tuple[set[str], set[str]]:
    return set(td.__required_keys__), set(td.__optional_keys__)


def _check(value: dict, td: type) -> None:
    required, optional = _keys(td)
    assert required <= set(value), required - set(value)
    assert set(value) <= required | optional, set(value) - required - optional


def _check_report(rep: dict, td: type = report.Report) -> None:
    _check(rep, td)
    assert rep["status"] in set(report.Status)
    assert rep.get("limit") in {None, *report.Limit}
    for inv in rep["invariants"]:
        _check(inv, report.InvariantResult)
        assert inv["held"] in (True, False, None)
    for violation in rep["violations"]:
        _check(violation, report.Violation)
    example = rep["counterexample"]
    if example is not None:
        _check(example, report.Counterexample)
        for fault in example["schedule"]:
            _check(fault, report.Fault)
        for step in example["trace"]:
            _check(step, report.TraceStep)
    assert json.loads(json.dumps(rep)) == rep


def test_status_members_are_the_strings_stored_as_json():
    assert [s.value for s in report.Status] == ["passed", "failed", "error", "timeout"]
    assert report.Status.PASSED == "passed"
    assert {"passed": 1}[report.Status.PASSED] == 1
    assert json.dumps({"s": report.Status.TIMEOUT, "l": report.Limit.WORK}) == (
        '{"s": "timeout", "l": "work"}'
    )
    assert f"{report.Status.FAILED}" == str(report.Status.FAILED) == "failed"


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_a_passing_and_a_failing_grading_have_the_report_shape(name):
    sc = scenarios.get(name)
    variant = next(stem for stem, outcome in sc.expected.items() if outcome != "pass")
    for source in (sc.reference_source, sc.variants[variant][0]):
        rep = sandbox.grade(name, source, seed=1, random_schedules=5)
        _check_report(rep)
        assert rep["status"] in (report.Status.PASSED, report.Status.FAILED)


def test_error_and_timeout_reports_have_the_report_shape():
    _check_report(sandbox.grade("no_such_scenario", "x = 1\n"))
    _check_report(sandbox.grade("idempotent_charge", "def charge(:\n"))
    missing = sandbox.grade("idempotent_charge", "x = 1\n")
    _check_report(missing)
    assert missing["status"] == "failed"
    assert all(inv["held"] is None for inv in missing["invariants"])
    for status, limit in [("timeout", "timeout"), ("timeout", "work"), ("error", None)]:
        failed = _failure(report.Status(status), "stopped", limit and report.Limit(limit))
        _check_report(failed)
        assert failed["seed"] is None and failed["limit"] == limit


def test_a_replay_report_has_the_report_shape():
    sc = scenarios.get("order_outbox")
    found = sandbox.grade("order_outbox", sc.variants["commit_then_publish"][0], seed=2)
    example = found["counterexample"]
    again = sandbox.replay(
        "order_outbox", sc.reference_source, example["seed"], example["schedule"]
    )
    _check_report(again)
    assert again["status"] == "passed" and again["counterexample"]["trace"]


@pytest.mark.parametrize("key", sorted(playgrounds.PLAYGROUNDS))
def test_playground_reports_have_the_playground_report_shape(key):
    _check_report(playgrounds.run(key, {}, seed=0), report.PlaygroundReport)


def test_the_retry_storm_load_is_the_extra_report_key():
    sc = scenarios.get("retry_storm")
    rep = sandbox.grade("retry_storm", sc.reference_source, seed=0, random_schedules=2)
    assert set(report.ExtraReport.__optional_keys__) == {"load"}
    assert rep["load"] and all(len(point) == 2 for point in rep["load"])


def test_every_report_key_is_in_the_readme_table():
    text = (sandbox.report.__file__.rsplit("/", 1)[0] + "/README.md").strip()
    with open(text) as fh:
        readme = fh.read()
    for key in typing.get_type_hints(report.PlaygroundReport):
        assert f"`{key}`" in readme, key


def test_the_public_face_exports_the_report_types():
    for name in ("Report", "PlaygroundReport", "Status", "Limit", "InvariantResult", "Violation"):
        assert getattr(sandbox, name) is getattr(report, name)


def test_add_extra_copies_every_key_a_scenario_may_add():
    extra: report.ExtraReport = {"load": [[0, 3], [100, 5]]}
    assert set(extra) == set(report.ExtraReport.__optional_keys__)
    rep = report.new_report(report.Status.PASSED)
    report.add_extra(rep, extra)
    assert {k: rep[k] for k in extra} == extra
    assert set(report.ExtraReport.__optional_keys__) <= set(report.Report.__optional_keys__)
