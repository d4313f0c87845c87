"""Grading through the real jail gives the same verdicts as in-process (skipped where no jail)."""

import json

import pytest

import sandbox
from sandbox import scenarios

jail = pytest.importorskip("sandbox.jail")
available, why = jail.jail_available()
pytestmark = pytest.mark.skipif(not available, reason=f"no jail here: {why}")


@pytest.mark.parametrize("name", ["idempotent_consumer", "order_saga_orchestration", "design_saga"])
def test_jailed_verdicts_match_in_process_verdicts(name):
    sc = scenarios.get(name)
    for source in (sc.reference_source, sc.starter_source):
        jailed = sandbox.grade(name, source, runner_factory=jail.JailRunner, random_schedules=100)
        local = sandbox.grade(name, source, random_schedules=100)
        assert jailed["status"] == local["status"]
        assert jailed["violations"] == local["violations"]
        assert json.dumps(jailed["counterexample"], sort_keys=True) == json.dumps(
            local["counterexample"], sort_keys=True
        )


def test_jailed_learner_cannot_forge_a_pass_by_exiting():
    source = "import os\ndef on_payment_captured(event, ctx):\n    os._exit(0)\n"
    report = sandbox.grade(
        "idempotent_consumer", source, runner_factory=jail.JailRunner, random_schedules=5
    )
    assert report["status"] in ("error", "failed")
