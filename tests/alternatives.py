"""The alternative correct solutions of every scenario (tests/sandbox/solutions/<scenario>/*.py), for
the in-process and the jail tests alike.

saga_styles holds both order sagas in one module, so its alternatives are not kept as files: each is
a choreography alternative and an orchestration alternative composed the way its reference is
(``sandbox.scenarios.saga_styles.compose``), so a fix to either scenario's solution reaches it."""

from __future__ import annotations

from pathlib import Path

from sandbox.scenarios.saga_styles import HEADINGS, STYLES, compose

SOLUTIONS = Path(__file__).resolve().parent / "sandbox" / "solutions"
# (choreography solution, orchestration solution): each pair one saga_styles alternative
STYLE_PAIRS = (
    ("insert_and_catch", "retry_in_place"),
    ("reservation_id_in_events", "saga_table"),
    ("status_guard", "stores_progress"),
)


def alternative_solutions() -> list[tuple[str, str, str]]:
    """(scenario, solution name, source), sorted by scenario and name."""
    found = [(p.parent.name, p.stem, p.read_text()) for p in SOLUTIONS.glob("*/*.py")]
    parts = [name for _, name in STYLES]
    for pair in STYLE_PAIRS:
        sections = [
            (heading, (SOLUTIONS / part / f"{stem}.py").read_text())
            for heading, part, stem in zip(HEADINGS, parts, pair)
        ]
        found.append(("saga_styles", "_and_".join(pair), compose(sections)))
    return sorted(found)
