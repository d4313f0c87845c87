"""Randomness. Each simulated run owns one seeded ``random.Random`` (latency, jitter,
delays); whether a fault fires at a given site is a pure hash of (seed, kind, site),
so a run's fault decisions do not depend on the order things happen in."""

from __future__ import annotations

import hashlib
import random


def world_rng(seed: int) -> random.Random:
    return random.Random(seed)


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) for these parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Prefix:
    """``draw(last)`` == ``unit(*parts, last)`` for a fixed prefix ``parts``, hashed once:
    ``draw(last)`` only hashes ``last`` on top of it (a copy of the prefix's hash state)."""

    __slots__ = ("_hash",)

    def __init__(self, state: hashlib.blake2b) -> None:
        self._hash = state  # the hash of "|".join(map(str, parts)) + "|"

    def __call__(self, last: object) -> float:
        h = self._hash.copy()
        h.update(str(last).encode())
        return int.from_bytes(h.digest(), "big") / 2.0**64

    def extend(self, part: object) -> Prefix:
        """The prefix ``(*parts, part)``."""
        h = self._hash.copy()
        h.update((str(part) + "|").encode())
        return Prefix(h)


def unit_prefix(*parts: object) -> Prefix:
    """``draw(last)`` == ``unit(*parts, last)``, hashing the shared prefix once."""
    return Prefix(hashlib.blake2b(("|".join(map(str, parts)) + "|").encode(), digest_size=8))


def schedule_seed(seed: int, index: int) -> int:
    return int(unit("schedule", seed, index) * 2**31)
