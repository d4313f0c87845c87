"""The scenario registry: ``all()`` maps each name to its scenario object."""

from __future__ import annotations

from importlib import import_module

from .base import Scenario

NAMES = (
    "idempotent_consumer",
    "idempotent_charge",
    "order_outbox",
    "order_saga_choreography",
    "order_saga_orchestration",
    "travel_booking",
    "retry_storm",
    "poison_message",
    "correlation_ids",
    "two_phase_commit",
    "shipping_down",
    "design_saga",
    "outbox_relay",
    "circuit_breaker",
    "chaos_checks",
    "unknown_outcome",
    "saga_styles",
    "tcc_holds",
    "saga_isolation",
)
_LOADED: dict[str, Scenario] = {}


def get(name: str) -> Scenario:
    if name not in NAMES:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(NAMES)}")
    if name not in _LOADED:
        scenario: Scenario = import_module(f"{__name__}.{name}").SCENARIO
        _LOADED[name] = scenario
    return _LOADED[name]


def all() -> dict[str, Scenario]:  # noqa: A001  (the public name the site uses)
    return {name: get(name) for name in NAMES}
