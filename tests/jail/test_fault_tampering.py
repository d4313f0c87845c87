"""Learner code cannot dodge a fault: the trusted side decides every crash, cuts the effects at the
crash point itself, refuses calls past it, and nothing the guest reports can un-fire it.

A buggy variant of every scenario for each invariant its variants break is graded through the real
jail with tampering code prepended; it must still fail on that invariant (and the reference must
still pass). Further variants that break the same invariant of the same scenario run the same
handlers against the same crash points, so they would re-prove the same thing at a jail grading
each (tests/test_exercise_jail.py grades every variant in the jail untampered)."""

import pytest

import sandbox
from sandbox import scenarios
from sandbox.jail import JailRunner

from .conftest import require_jail

# Every trick at once: they compose, and each alone is weaker than all of them.
TAMPER = """
import saga_api as _sa, dispatch as _dp

_orig_init = _sa.Context.__init__
def _init(self, *args, **kwargs):
    _orig_init(self, *args, **kwargs)
    self._recorder.crash_at = None          # the one-liner that used to switch crashes off
_sa.Context.__init__ = _init
_sa._Recorder.check = lambda self: None

class _Never(BaseException):
    pass
_sa._Crash = _Never                           # a refused call raises something nobody raises

_orig_call = _dp._call
def _call(namespace, request, callback):
    request = dict(request)
    request.pop("crash_at", None)
    out = _orig_call(namespace, request, callback)
    out["crashed"] = False                    # "I did not crash"
    out["ok"] = out.get("ok", True)
    return out
_dp._call = _call
"""

ONE_LINER = "import saga_api as _sa\n_sa._Recorder.crash_at = None\n"


def _one_variant_per_broken_invariant() -> list[tuple[str, str]]:
    chosen: dict[tuple[str, str], str] = {}
    for name in scenarios.NAMES:
        if "crash" not in scenarios.get(name).fault_kinds:
            continue
        for variant, (_, expected) in scenarios.get(name).variants.items():
            if expected != "pass":
                chosen.setdefault((name, expected), variant)
    return [(name, variant) for (name, _), variant in chosen.items()]


CASES = _one_variant_per_broken_invariant()


def _grade(name, source, schedules=120):
    require_jail()
    return sandbox.grade(
        name, source, runner_factory=JailRunner, seed=0, random_schedules=schedules
    )


@pytest.mark.parametrize("name,variant", CASES)
def test_tampering_does_not_turn_a_buggy_variant_into_a_pass(name, variant):
    source, expected = scenarios.get(name).variants[variant]
    report = _grade(name, TAMPER + ONE_LINER + source)
    assert report["status"] == "failed", report["message"]
    assert expected in [v["name"] for v in report["violations"]], report["message"]


@pytest.mark.parametrize(
    "name", [n for n in scenarios.NAMES if "crash" in scenarios.get(n).fault_kinds]
)
def test_tampering_does_not_make_a_reference_fail(name):
    # Every crash site is tried alone before any random schedule, so a few random ones suffice.
    report = _grade(name, TAMPER + scenarios.get(name).reference_source, schedules=10)
    assert report["status"] == "passed", report["message"]


def test_a_handler_that_swallows_its_crash_still_crashed():
    # A refused call raises inside the guest; catching it and carrying on changes nothing.
    source = """
def on_payment_captured(event, ctx):
    try:
        with ctx.db.transaction() as tx:
            tx.update("orders", event.data["order_id"], status="CONFIRMED")
            tx.outbox("OrderConfirmed", {"order_id": event.data["order_id"]},
                      correlation_id=event.correlation_id)
    except BaseException:
        pass
"""
    report = _grade("idempotent_consumer", source)
    assert report["status"] == "failed"
    assert "confirmed_once" in [v["name"] for v in report["violations"]]
