"""Fault schedules: which faults fire where.

A *site* is a stable name for a place a fault can happen ("the 1st delivery of
message ord-3 to inventory.on_order_created"). A schedule is a list of faults
``{"kind", "site"}`` (crashes add ``"at"``: the effect index the process dies
before; ``at == number of effects`` means after the last effect, before the
acknowledgement). A plan runs in one of four modes:

* ``discover``: nothing fires; every site reached is recorded (to enumerate
  single faults systematically);
* ``replay``: exactly the faults in the schedule fire;
* ``random``: each site fires with a per-kind rate derived from the seed;
* ``none``: nothing fires;
* ``rules``: faults whose site contains a rule's ``match`` fire, the first
  ``times`` (default 1) occurrences each (lesson playgrounds force faults this way).

Faults only fire before ``horizon``: after that the world is calm and must
converge (the consistency window).
"""

from __future__ import annotations

from typing import Any

from .report import Fault
from .rng import Prefix, unit_prefix

FAULT_KINDS = {
    "crash": "a service crashes part-way through handling something",
    "duplicate": "the broker delivers a message twice",
    "delay": "the broker delays a message, so later ones overtake it",
    "relay_crash": "the outbox relay crashes after publishing, before marking the row sent",
    "request_lost": "an RPC request is lost: the server never sees it, the caller times out",
    "reply_lost": "an RPC reply is lost: the server acted, but the caller times out",
    "concurrent": "a second copy of a request arrives while the first is still being handled",
    "late_reply": "a request is slow: the caller times out, and the server acts on it later",
    "late_answer": (
        "a step's message arrives only after the saga's timeout has decided: the service acts or "
        "answers, but too late for the order it was for"
    ),
    "key_reuse": "a client reuses an idempotency key with a different payload",
    "declined": "the customer's card is declined",
    "out_of_stock": "there is not enough stock",
    "unavailable": "a booking partner has no availability",
    "vote_no": "a 2PC participant votes no",
    "coordinator_down": "the coordinator crashes and stays down",
    "outage": "a service is down for a window of time",
    "malformed": "a producer sends a message that can never be processed (poison)",
}

BUSINESS = {"declined", "out_of_stock", "unavailable", "vote_no", "key_reuse", "malformed"}
_RATES = {"crash": (0.02, 0.12), "business": (0.15, 0.6)}
_DEFAULT_RATE = (0.04, 0.3)
MAX_CRASH_AT = 8


class FaultPlan:
    def __init__(
        self,
        mode: str,
        seed: int = 0,
        schedule: list[Fault] | None = None,
        kinds: tuple[str, ...] = (),
        horizon: int = 3000,
        rules: list[dict[str, Any]] | None = None,
    ) -> None:
        self.mode = mode
        self.seed = seed
        self.kinds = set(kinds)
        self.horizon = horizon
        self.wanted = {(f["kind"], f["site"]): f for f in (schedule or [])}
        self.fired: list[Fault] = []
        self.sites: list[Fault] = []
        self._seen: set[tuple[str, str, int | None]] = set()
        # unit(seed, kind, ...) with the (seed, kind) prefix hashed once per plan (``_draw``).
        self._prefixes: dict[str, Prefix] = {}
        # Only random plans draw faults at a rate (the rates are a pure function of the seed).
        drawn = mode not in ("discover", "replay", "none", "rules")
        self._rates = {k: self._rate(k) for k in self.kinds} if drawn else {}
        self.rules = [dict(r, used=0) for r in (rules or [])]

    def _rate(self, kind: str) -> float:
        if self._draw("off")(kind) < 0.25:  # == unit(self.seed, "off", kind)
            return 0.0
        lo, hi = _RATES.get("business" if kind in BUSINESS else kind, _DEFAULT_RATE)
        return lo + (hi - lo) * self._draw("rate")(kind)  # == unit(self.seed, "rate", kind)

    def _discover(self, fault: Fault) -> None:
        key = (fault["kind"], fault["site"], fault.get("at"))
        if key not in self._seen:
            self._seen.add(key)
            self.sites.append(fault)

    def fires(self, kind: str, site: str, now: int = 0) -> bool:
        if self.mode == "discover":
            if kind in self.kinds and now < self.horizon:
                self._discover({"kind": kind, "site": site})
            return False
        if now >= self.horizon or self.mode == "none":
            return False
        if self.mode == "replay":
            hit = (kind, site) in self.wanted
        elif self.mode == "rules":
            hit = self._rule(kind, site) is not None
        else:
            # A rate of 0 never fires (unit() is in [0, 1)): skip the hash.
            rate = self._rates.get(kind, 0.0)
            hit = rate > 0.0 and self._draw(kind)(site) < rate  # == unit(self.seed, kind, site)
        if hit:
            self.fired.append({"kind": kind, "site": site})
        return hit

    def crash_point(self, site: str, now: int) -> int | None:
        crash = self.crash(site, now)
        crash.reached(MAX_CRASH_AT)
        return crash.at

    def crash(self, site: str, now: int) -> CrashPoint:
        """Where the invocation at ``site`` starting at ``now`` crashes, if it does (a
        ``CrashPoint``, asked as its effects arrive)."""
        if self.mode in ("discover", "none") or now >= self.horizon:
            return _NO_CRASH
        if self.mode == "replay":
            fault = self.wanted.get(("crash", site))
            return CrashPoint(None if fault is None else int(fault.get("at", 0)))
        if self.mode == "rules":
            rule = self._rule("crash", site)
            return CrashPoint(None if rule is None else int(rule.get("at", 0)))
        rate = self._rates.get("crash", 0.0)
        if rate <= 0.0:  # crash off (or not a kind here): never fires
            return _NO_CRASH
        # The first k with unit(self.seed, "crash", site, k) < rate, drawn as far as needed.
        return CrashPoint(None, self._draw("crash").extend(site), rate)

    def _draw(self, kind: str) -> Prefix:
        """``unit(self.seed, kind, ...)`` with the shared prefix hashed once per plan."""
        draw = self._prefixes.get(kind)
        if draw is None:
            draw = self._prefixes[kind] = unit_prefix(self.seed, kind)
        return draw

    def _rule(self, kind: str, site: str) -> dict[str, Any] | None:
        for rule in self.rules:
            if (
                rule["kind"] == kind
                and rule["match"] in site
                and rule["used"] < rule.get("times", 1)
            ):
                rule["used"] += 1
                return rule
        return None

    def crashed(self, site: str, at: int) -> None:
        self.fired.append({"kind": "crash", "site": site, "at": at})

    def crash_sites(self, site: str, effects: int, now: int) -> None:
        if self.mode == "discover" and "crash" in self.kinds and now < self.horizon:
            for k in range(effects + 1):
                self._discover({"kind": "crash", "site": site, "at": k})


class CrashPoint:
    """Where one invocation crashes: ``at``, the effect index the process dies before (None: no
    crash). In random mode it is the first ``k < MAX_CRASH_AT`` whose draw is below the crash
    rate, and only the draws up to the effects that actually arrive are made: ``reached(n)``
    (is the crash point at or before effect ``n``?) draws ``k = 0 .. n`` at most, so the answer,
    and ``at`` once it is True, are those of drawing all ``MAX_CRASH_AT`` numbers up front."""

    __slots__ = ("at", "_draw", "_rate", "_next")

    def __init__(self, at: int | None, draw: Prefix | None = None, rate: float = 0.0) -> None:
        self.at = at
        self._draw = draw  # None once ``at`` is final
        self._rate = rate
        self._next = 0  # the next k to draw

    def reached(self, n: int) -> bool:
        if self._draw is not None and self._next <= n:
            self._draw_to(n)
        return self.at is not None and n >= self.at

    def _draw_to(self, n: int) -> None:
        assert self._draw is not None
        draw = self._draw
        rate = self._rate
        k = self._next
        last = min(n, MAX_CRASH_AT - 1)
        while k <= last:
            if draw(k) < rate:  # == unit(seed, "crash", site, k)
                self.at = k
                self._draw = None
                return
            k += 1
        self._next = k
        if k >= MAX_CRASH_AT:
            self._draw = None  # every draw made: no crash


# Final (nothing left to draw): shared by every invocation that cannot crash.
_NO_CRASH = CrashPoint(None)
