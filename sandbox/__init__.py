"""The mini saga environment: a deterministic simulator of services, a broker,
an outbox relay and faults, plus the jail that runs learner code.

Plain Python. Nothing in this package may import Django.

Public API: ``grade``, ``replay``, ``scenarios.all()``, ``playgrounds.PLAYGROUNDS``
and ``playgrounds.run`` (see README.md).
"""

from . import invariants, playgrounds, scenarios  # noqa: F401
from .explore import grade, replay  # noqa: F401
