"""The mini saga environment: a deterministic simulator of services, a broker,
an outbox relay and faults, plus the jail that runs learner code.

Plain Python. Nothing in this package may import Django.

Public API: ``grade``, ``replay``, ``scenarios.all()``, ``playgrounds.PLAYGROUNDS``
and ``playgrounds.run`` (see README.md), and the types of the report they return
(``Report``, ``Status``, ... from ``sandbox.report``).
"""

from . import invariants, playgrounds, scenarios
from .explore import grade, replay
from .report import (
    Counterexample,
    ExtraReport,
    Fault,
    InvariantInfo,
    InvariantResult,
    Limit,
    PlaygroundReport,
    Report,
    Status,
    TraceStep,
    Violation,
)

__all__ = [
    "Counterexample",
    "ExtraReport",
    "Fault",
    "InvariantInfo",
    "InvariantResult",
    "Limit",
    "PlaygroundReport",
    "Report",
    "Status",
    "TraceStep",
    "Violation",
    "grade",
    "invariants",
    "playgrounds",
    "replay",
    "scenarios",
]
