"""The mini saga environment: a deterministic simulator of services, a broker,
an outbox relay and faults, plus the jail that runs learner code.

Plain Python. Nothing in this package may import Django.

Public API: ``grade``, ``replay``, ``scenarios.all()``, ``playgrounds``.
"""
from .explore import grade, replay  # noqa: F401
