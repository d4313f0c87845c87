# Helpers shared by the scenarios' world.py files (trusted participants), which import them by
# their full name: ``from sandbox.scenarios.world_prelude import _replay, _save``. World code runs
# in the trusted process only (Scenario.world_source, explore._trusted). This module lives here,
# not in sandbox/guest/, so learner code in the jail (which sees only sandbox/guest/ and the
# standard library) cannot import a ready-made idempotency-key store for the exercises that ask
# them to write one.

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the learner API, importable where world code runs (sandbox/guest on sys.path)
    from saga_api import Request, Transaction


def _replay(tx: Transaction, request: Request) -> dict[str, Any] | None:
    """The stored result of an earlier request with the same idempotency key, if any."""
    if request.idempotency_key:
        saved = tx.get("keys", request.idempotency_key)
        if saved:
            result: dict[str, Any] = saved["result"]
            return result
    return None


def _save(tx: Transaction, request: Request, result: dict[str, Any]) -> dict[str, Any]:
    if request.idempotency_key:
        tx.insert("keys", request.idempotency_key, {"result": result})
    return result
