"""Executable claims: what a lesson says a playground run shows, checked by running it.

A claim is a line of its own in lesson Markdown (or the ``try`` of a self-check)::

    ::: try PLAYGROUND [TOGGLE=on|off ...] [seed=N] (breaks=INVARIANT[,INVARIANT ...] | holds)
            [shows=WORD[,WORD ...]]

* ``PLAYGROUND`` is a key of ``sandbox.playgrounds.PLAYGROUNDS``;
* each ``TOGGLE=on|off`` names one of that playground's toggles; toggles not named keep their
  default, exactly as on the lesson page;
* ``seed=N`` (0 to ``MAX_SEED``) picks the run; without it the claim uses the page's default
  seed, ``DEFAULT_SEED``;
* exactly one outcome: ``holds`` (every invariant holds) or ``breaks=`` followed by the
  invariants the run breaks, all of them and nothing else (order does not matter);
* ``shows=`` (optional) lists words the run's trace must contain, each as a whole word of some
  step (a message type such as ``RefundPayment``, a state such as ``status=RELEASED`` or
  ``balance=100``): what the lesson's prose says happens in the run is then checked too.

``check`` runs the claim through ``sandbox.playgrounds.run``, the code the lesson page runs, and
returns why it does not hold (``None`` when it does). Runs are deterministic, so an outcome is
computed once per process.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.invariants import INVARIANTS
from sandbox.playgrounds import PLAYGROUNDS
from sandbox.playgrounds import run as simulate

DIRECTIVE = "::: try"
LINE = re.compile(r"^::: try(?:\s+(?P<text>.*?))?\s*$")
MAX_SEED = 999  # the lesson page clamps seeds to 0..MAX_SEED
DEFAULT_SEED = 1  # the seed a playground shows before the reader picks one


class ClaimSyntaxError(ValueError):
    """The directive does not follow the grammar; the message says what is wrong."""


@dataclass(frozen=True)
class Claim:
    playground: str
    toggles: tuple[tuple[str, bool], ...]  # as written, in order
    seed: int
    breaks: tuple[str, ...]  # empty: the run must hold
    text: str  # the directive after "::: try"
    shows: tuple[str, ...] = ()  # words the trace must contain

    @property
    def holds(self) -> bool:
        return not self.breaks

    def settings(self) -> dict[str, bool]:
        """Every toggle of the playground as the run sees it: defaults, then the claim's."""
        values = {t["name"]: bool(t["default"]) for t in PLAYGROUNDS[self.playground]["toggles"]}
        values.update(self.toggles)
        return values

    def query(self) -> dict[str, str]:
        """The lesson page's GET parameters that open the playground with this run."""
        params = {"playground": self.playground, "run": "1"}
        params.update({name: "on" for name, on in self.settings().items() if on})
        params["seed"] = str(self.seed)
        return params


def parse(text: str) -> Claim:
    """Parse what follows ``::: try``; raise ClaimSyntaxError with the reason."""
    words = (text or "").split()
    if not words:
        raise ClaimSyntaxError(
            "a claim names a playground: '::: try KEY [TOGGLE=on|off ...] [seed=N] "
            "breaks=INVARIANT | holds'"
        )
    key, *rest = words
    if key not in PLAYGROUNDS:
        raise ClaimSyntaxError(f"unknown playground {key!r}; known: {', '.join(PLAYGROUNDS)}")
    toggle_names = [t["name"] for t in PLAYGROUNDS[key]["toggles"]]
    toggles: dict[str, bool] = {}
    seed: int | None = None
    breaks: tuple[str, ...] | None = None
    shows: tuple[str, ...] | None = None
    holds = False
    for word in rest:
        name, equals, value = word.partition("=")
        if word == "holds":
            if holds:
                raise ClaimSyntaxError("'holds' is given twice")
            holds = True
        elif not equals:
            raise ClaimSyntaxError(
                f"{word!r} is not NAME=VALUE; a claim ends with breaks=INVARIANT or holds"
            )
        elif name == "seed":
            if seed is not None:
                raise ClaimSyntaxError("seed is given twice")
            if not value.isdigit() or int(value) > MAX_SEED:
                raise ClaimSyntaxError(f"seed must be a whole number from 0 to {MAX_SEED}")
            seed = int(value)
        elif name == "breaks":
            if breaks is not None:
                raise ClaimSyntaxError("breaks= is given twice; list the invariants with commas")
            names = tuple(value.split(","))
            for invariant in names:
                if invariant not in INVARIANTS:
                    raise ClaimSyntaxError(
                        f"unknown invariant {invariant!r}; known: {', '.join(sorted(INVARIANTS))}"
                    )
            if len(set(names)) != len(names):
                raise ClaimSyntaxError("breaks= names an invariant twice")
            breaks = names
        elif name == "shows":
            if shows is not None:
                raise ClaimSyntaxError("shows= is given twice; list the words with commas")
            shows = tuple(value.split(","))
            if not all(shows):
                raise ClaimSyntaxError("shows= lists words of the trace, separated by commas")
        elif name in toggle_names:
            if name in toggles:
                raise ClaimSyntaxError(f"toggle {name!r} is given twice")
            if value not in ("on", "off"):
                raise ClaimSyntaxError(f"toggle {name!r} must be on or off, not {value!r}")
            toggles[name] = value == "on"
        else:
            raise ClaimSyntaxError(
                f"playground {key!r} has no toggle {name!r}; its toggles: {', '.join(toggle_names)}"
            )
    if holds == (breaks is not None):
        raise ClaimSyntaxError("a claim ends with exactly one of breaks=INVARIANT or holds")
    return Claim(
        playground=key,
        toggles=tuple(toggles.items()),
        seed=DEFAULT_SEED if seed is None else seed,
        breaks=breaks or (),
        text=" ".join(words),
        shows=shows or (),
    )


def find(body: str) -> Iterator[tuple[int, str]]:
    """(0-based line, text after '::: try') for every claim line of a Markdown body."""
    for number, line in enumerate(body.split("\n")):
        match = LINE.match(line)
        if match:
            yield number, match.group("text") or ""


def parse_all(body: str) -> list[Claim]:
    """Every claim of a body, in order (the body was validated when it was loaded)."""
    return [parse(text) for _, text in find(body)]


@functools.lru_cache(maxsize=512)
def _run(
    key: str, settings: tuple[tuple[str, bool], ...], seed: int
) -> tuple[str, frozenset[str], frozenset[str]]:
    report = simulate(key, dict(settings), seed)
    words = frozenset(
        word.strip(",;:()")
        for step in report.get("trace") or []
        for word in f"{step['kind']} {step['detail']}".split()
    )
    return report["status"], frozenset(v["name"] for v in report["violations"]), words


def outcome(claim: Claim) -> tuple[str, frozenset[str]]:
    """(status, names of the broken invariants) of the claim's run."""
    status, broken, _ = _run(claim.playground, tuple(sorted(claim.settings().items())), claim.seed)
    return status, broken


def check(claim: Claim) -> str | None:
    """Why the claim does not hold, or None when the run shows exactly what it says."""
    status, broken = outcome(claim)
    _, _, words = _run(claim.playground, tuple(sorted(claim.settings().items())), claim.seed)
    missing = [word for word in claim.shows if word not in words]
    if missing:
        return (
            f"claim does not hold: '{DIRECTIVE} {claim.text}' says the run shows "
            f"{', '.join(missing)}, but its trace (seed {claim.seed}) has no such step"
        )
    if claim.holds and status == "passed" and not broken:
        return None
    if not claim.holds and broken == set(claim.breaks):
        return None
    if broken:
        saw = f"breaks={','.join(sorted(broken))}"
    elif status == "passed":
        saw = "holds"
    else:
        saw = f"no broken invariant but the status {status!r}"
    said = "holds" if claim.holds else f"breaks={','.join(claim.breaks)}"
    return (
        f"claim does not hold: '{DIRECTIVE} {claim.text}' says {said}, but the run "
        f"(seed {claim.seed}) shows {saw}"
    )


def describe_outcome(claim: Claim) -> list[dict]:
    """The expected result in learner terms: [{"name", "title"}] of the invariants it breaks."""
    return [{"name": name, "title": INVARIANTS[name].title} for name in claim.breaks]


def describe_toggles(claim: Claim) -> list[dict]:
    """The toggles the claim sets, with their labels: [{"name", "label", "on"}]."""
    labels = {t["name"]: t["label"] for t in PLAYGROUNDS[claim.playground]["toggles"]}
    return [{"name": name, "label": labels[name], "on": on} for name, on in claim.toggles]
