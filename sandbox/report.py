"""The grading report, typed: what ``grade``, ``replay``, ``playgrounds.run`` and
``isolated.grade_isolated`` return.

The report is a plain JSON-serialisable dict (the site stores it as JSON and reads it back as a
dict), so its shape is described with ``TypedDict`` and its closed sets of values with
``StrEnum``: a ``Status`` member *is* the string ``"passed"`` (equal to it, hashed like it,
serialised and rendered as it), so code that compares with plain strings keeps working, and a
report read back from JSON (plain strings) still matches these types' values.

Where each key is produced:

* ``explore._grade`` builds every report from ``new_report`` (all the ``Report`` keys; ``limit``
  on a runner timeout or a work budget), ``explore._explore`` fills the verdict, and
  ``Scenario.extra_report`` adds scenario keys (``load`` for retry_storm);
* ``isolated`` adds ``grader_memory_mb`` / ``grader_cpu_seconds`` (the child's limits),
  ``retried`` (a wall-clock timeout run a second time) and builds ``failure_report`` when the
  child process itself failed;
* a composite scenario (``Scenario.grade_composite``, saga_styles) merges its parts' reports and
  adds ``styles``;
* ``playgrounds.run`` adds ``playground`` and ``trace`` (``PlaygroundReport``).
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired[...] at runtime to
# tell required keys from optional ones (``Report.__optional_keys__``).
from enum import StrEnum
from typing import NotRequired, TypedDict


class Status(StrEnum):
    """The verdict of one grading."""

    PASSED = "passed"  # every checked invariant held on every schedule explored
    FAILED = "failed"  # an invariant broke (or a required function is missing)
    ERROR = "error"  # syntax error, malformed guest answer, runner or simulator failure
    TIMEOUT = "timeout"  # a wall-clock, CPU or work limit ended the grading (see ``limit``)


class Limit(StrEnum):
    """Which limit ended a ``timeout`` grading."""

    TIMEOUT = "timeout"  # wall clock (the learner's runner, or the whole isolated grading)
    CPU = "cpu"  # the learner's CPU time in the jail
    WORK = "work"  # the simulator's budgets: calls, round trips, host CPU or memory


class InvariantInfo(TypedDict):
    """``invariants.describe(name)``: an invariant as learners read it."""

    name: str
    title: str
    explanation: str


class InvariantResult(InvariantInfo):
    """One entry of ``Report["invariants"]``: ``held`` is None until an exploration finished
    (not checked), then True or False."""

    held: bool | None


class Violation(InvariantInfo):
    """One entry of ``Report["violations"]``: ``detail`` joins the first three problems found."""

    detail: str


class Fault(TypedDict):
    """One fault of a schedule: crashes add ``at``, the effect index the process died before."""

    kind: str
    site: str
    at: NotRequired[int]


class TraceStep(TypedDict):
    """One step of a trace (``trace.Trace.add``); arrows add ``to``."""

    t: int
    service: str
    kind: str
    message_id: str | None
    correlation_id: str | None
    detail: str
    to: NotRequired[str]


class Counterexample(TypedDict):
    """A schedule to pass back to ``replay`` (``seed`` and ``schedule``), with its trace."""

    seed: int
    schedule: list[Fault]
    trace: list[TraceStep]


class ExtraReport(TypedDict, total=False):
    """Keys a scenario adds to its reports (``Scenario.extra_report``)."""

    load: list[list[int]]  # retry_storm: [[t_ms, calls], ...] per 100 ms bucket


class StyleSummary(TypedDict):
    """One style of a composite grading (saga_styles): its verdict and its calm run (no faults)."""

    status: Status
    message: str
    schedules_explored: int
    calm_status: Status
    messages: int  # events, RPC requests and replies between services in the calm run
    orders: int
    hops_per_order: float
    logic_in: list[str]  # services whose learner code took a saga decision
    trace: list[TraceStep]


class Report(TypedDict):
    """What ``sandbox.grade`` / ``sandbox.replay`` return (and ``grade_isolated``)."""

    status: Status
    message: str
    violations: list[Violation]
    invariants: list[InvariantResult]
    seed: int | None  # None only when the isolated grading process itself failed
    schedules_explored: int
    fault_kinds_explored: dict[str, int]
    counterexample: Counterexample | None
    lanes: list[str]
    output: str
    output_dropped: int
    duration_ms: int
    limit: NotRequired[Limit | None]
    load: NotRequired[list[list[int]]]
    retried: NotRequired[bool]
    grader_memory_mb: NotRequired[int]
    grader_cpu_seconds: NotRequired[int]
    styles: NotRequired[
        dict[str, StyleSummary]
    ]  # saga_styles: per style, for the side-by-side view


class PlaygroundReport(Report):
    """What ``playgrounds.run`` returns: the report, plus the trace even when passing."""

    playground: str
    trace: list[TraceStep]


def add_extra(report: Report, extra: ExtraReport) -> None:
    """``report.update(extra)``, key by key (a type checker cannot see that an ``ExtraReport``
    holds no other keys; ``test_report_types`` checks every key of ``ExtraReport`` is copied)."""
    if "load" in extra:
        report["load"] = extra["load"]


def new_report(
    status: Status,
    message: str = "",
    *,
    invariants: list[InvariantResult] | None = None,
    seed: int | None = 0,
    lanes: list[str] | None = None,
) -> Report:
    """A report with every required key, in the order the JSON has always had them."""
    return {
        "status": status,
        "message": message,
        "violations": [],
        "invariants": invariants if invariants is not None else [],
        "seed": seed,
        "schedules_explored": 0,
        "fault_kinds_explored": {},
        "counterexample": None,
        "lanes": lanes if lanes is not None else [],
        "output": "",
        "output_dropped": 0,
        "duration_ms": 0,
    }
