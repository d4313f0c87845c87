"""Virtual time: a clock and an agenda of things to do at a given millisecond."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class Scheduler:
    """The world's only notion of time. Nothing sleeps; ``run`` jumps from event to event."""

    def __init__(self) -> None:
        self.now = 0
        self._agenda: list[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = 0
        self.steps = 0

    def at(self, t: int, fn: Callable[..., Any], *args: Any) -> None:
        self._seq += 1
        t = int(t)
        if t < self.now:  # == max(int(t), self.now)
            t = self.now
        heapq.heappush(self._agenda, (t, self._seq, fn, args))

    def after(self, delay: int, fn: Callable[..., Any], *args: Any) -> None:
        # == self.at(self.now + delay, fn, *args), written out (most events are scheduled here).
        self._seq += 1
        t = int(self.now + delay)
        if t < self.now:
            t = self.now
        heapq.heappush(self._agenda, (t, self._seq, fn, args))

    def run(self, until: int, max_steps: int) -> bool:
        """Run until nothing is left (True) or the horizon / step budget is hit (False)."""
        agenda = self._agenda
        pop = heapq.heappop
        while agenda:
            t = agenda[0][0]
            if t > until or self.steps >= max_steps:
                return False
            _, _, fn, args = pop(agenda)
            self.now = t
            self.steps += 1
            fn(*args)
        return True
