"""One bounded budget per grading: whatever a submission does, the grading ends with a verdict, the
trusted side's memory stays under sandbox.isolated.MEMORY_MB, and a busy host is not blamed on the
learner. Every grading here runs the way the site runs it: sandbox.isolated + the real jail."""

import resource
import subprocess
import sys

from sandbox import isolated, scenarios
from sandbox.isolated import grade_isolated

from .conftest import require_jail

REFERENCE = scenarios.get("idempotent_consumer").reference_source

# Thousands of callbacks from one invocation, each with long names: once made the trusted side's
# cache keys grow with the square of the callbacks (gigabytes).
CALLBACK_FLOOD = """
def on_payment_captured(event, ctx):
    for i in range(10000):
        try:
            ctx.call("s" * 190, "o" * 190, {"k" * 190: ["v" * 3000] * 5}, correlation_id=event.correlation_id)
        except BaseException:
            pass
"""

# The reference plus large payloads on every call: host work the learner must be charged for.
HEAVY_PAYLOADS = (
    REFERENCE
    + """
_original = on_payment_captured

def on_payment_captured(event, ctx):
    for i in range(60):
        try:
            ctx.call("payment", "status", {"junk": [[i, "x" * 20] for _ in range(3000)]},
                     correlation_id=event.correlation_id)
        except BaseException:
            pass
    return _original(event, ctx)
"""
)


def _children_peak_mib() -> float:
    # A grading process is the warm server's child: its peak reaches this process's
    # RUSAGE_CHILDREN only once the server has exited and been waited for.
    isolated.stop_servers()
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def test_a_callback_flood_ends_as_too_much_work_within_the_memory_cap():
    require_jail()
    report = grade_isolated("idempotent_consumer", CALLBACK_FLOOD, random_schedules=50)
    assert report["status"] == "timeout", report["message"]
    assert "too much work" in report["message"]
    assert _children_peak_mib() < isolated.MEMORY_MB


def test_heavy_payloads_are_charged_to_the_learner_not_the_grader():
    require_jail()
    report = grade_isolated("idempotent_consumer", HEAVY_PAYLOADS, random_schedules=50)
    assert report["status"] in ("error", "timeout"), report["message"]
    assert report["status"] != "passed"
    assert _children_peak_mib() < isolated.MEMORY_MB


def test_every_grading_runs_under_the_memory_and_cpu_caps():
    require_jail()
    report = grade_isolated("idempotent_consumer", REFERENCE, random_schedules=20)
    assert report["status"] == "passed", report["message"]
    assert report["grader_memory_mb"] == isolated.MEMORY_MB
    assert report["grader_cpu_seconds"] == isolated.CPU_SECONDS


def test_a_grading_killed_at_its_cpu_cap_ends_as_too_much_work():
    require_jail()
    report = grade_isolated(
        "idempotent_consumer", REFERENCE, random_schedules=100_000, cpu_seconds=1
    )
    assert report["status"] == "timeout"
    assert "too much work" in report["message"]


def test_running_out_of_wall_time_is_retried_once_before_blaming_the_code():
    require_jail()
    report = grade_isolated(
        "idempotent_consumer", REFERENCE, random_schedules=10, wall_seconds=0.05
    )
    assert report.get("retried") is True
    assert report["status"] == "timeout" and report["limit"] == "timeout"


def test_a_correct_solution_passes_on_a_host_busy_with_cpu_hogs():
    require_jail()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        report = grade_isolated("idempotent_consumer", REFERENCE, random_schedules=100)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert report["status"] == "passed", report["message"]
