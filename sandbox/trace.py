"""Traces are data: timestamped steps the site renders as a sequence diagram."""

from __future__ import annotations

import json

from .report import TraceStep

MAX_STEPS = 4000


class Trace:
    def __init__(self) -> None:
        self.steps: list[TraceStep] = []
        self.dropped = 0

    def add(
        self,
        t: int,
        service: str,
        kind: str,
        detail: str,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        to: str | None = None,
    ) -> None:
        if len(self.steps) >= MAX_STEPS:
            self.dropped += 1
            return
        step: TraceStep = {
            "t": t,
            "service": service,
            "kind": kind,
            "message_id": message_id,
            "correlation_id": correlation_id,
            "detail": detail,
        }
        if to is not None:
            step["to"] = to
        self.steps.append(step)

    def to_json(self) -> str:
        return json.dumps(self.steps, sort_keys=True, separators=(",", ":"))
