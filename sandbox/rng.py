"""Randomness. Each simulated run owns one seeded ``random.Random`` (latency, jitter,
delays); whether a fault fires at a given site is a pure hash of (seed, kind, site),
so a run's fault decisions do not depend on the order things happen in."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable


def world_rng(seed: int) -> random.Random:
    return random.Random(seed)


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) for these parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def unit_prefix(*parts: object) -> Callable[[object], float]:
    """``draw(last)`` == ``unit(*parts, last)``, hashing the shared prefix once."""
    base = hashlib.blake2b(("|".join(map(str, parts)) + "|").encode(), digest_size=8)

    def draw(last: object) -> float:
        h = base.copy()
        h.update(str(last).encode())
        return int.from_bytes(h.digest(), "big") / 2.0**64

    return draw


def schedule_seed(seed: int, index: int) -> int:
    return int(unit("schedule", seed, index) * 2**31)
