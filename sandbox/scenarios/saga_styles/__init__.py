"""Both saga styles, compared: one learner module holds the order saga twice, once by choreography
(the seven handlers of ``order_saga_choreography``) and once by orchestration (``handle_place_order`` of
``order_saga_orchestration``).

Grading runs the two existing scenarios' gradings on the one source (``grade_composite``: the same
explore code, the same runner or jail for the learner's code, the same invariants) and merges the two
reports: failed if either style fails, each violation's title prefixed with its style, the first failing
style's counterexample, and ``styles``: per style its status, schedules explored and its calm run (one run
without faults, replayed) summarised for the side-by-side view (messages on the wire, hops per order, the
services whose code took a saga decision) with that run's trace.

The two styles' function names do not clash (the choreography handlers are ``place_order`` and
``on_*``; the orchestrator is ``handle_place_order``), so each part is given the source as it is: a part
calls only the functions its own scenario subscribes or invokes.

The reference, starter and variants are not kept as files here: each is composed when it is read from
a file of each part's scenario (``SOURCES``), so a fix to either scenario's reference reaches this one.
``equivalent_mutants.txt`` names lines of the composed reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ...invariants import describe
from ...report import (
    Counterexample,
    Fault,
    InvariantResult,
    Report,
    StyleSummary,
    TraceStep,
    new_report,
)
from .. import get
from ..base import Scenario

STYLES = (
    ("choreography", "order_saga_choreography"),
    ("orchestration", "order_saga_orchestration"),
)
# Each source of this scenario (reference, starter, variant) -> the file stems it is composed of, in
# order_saga_choreography and in order_saga_orchestration. A variant breaks one style only.
SOURCES = {
    "reference": ("reference", "reference"),
    "starter": ("starter", "starter"),
    "orchestration_without_compensation": ("reference", "missing_compensation"),
    "choreography_without_dedup": ("no_dedup", "reference"),
    "orchestration_timeout_means_failure": ("reference", "timeout_means_failure"),
    "choreography_without_outbox": ("no_outbox", "reference"),
}
HEADINGS = (
    "# --- Choreography: Order, Inventory and Payment react to each other's events ---",
    "# --- Orchestration: one orchestrator in Order calls Inventory and Payment ---",
)
IMPORT = re.compile(r"from saga_api import (.+)\n")
# Trace steps that are a message on the wire between two parties (events, RPC requests and replies).
WIRE_KINDS = ("publish", "call", "reply")


class SagaStyles(Scenario):
    name = "saga_styles"
    title = "Both saga styles, compared"
    summary = (
        "The order saga twice in one module: by choreography (Order, Inventory and Payment react to "
        "each other's events) and by orchestration (one orchestrator in Order calls Inventory and "
        "Payment). Both are graded against the same invariants under their own faults, and their calm "
        "runs are shown side by side."
    )
    lanes = ("client", "order", "inventory", "payment")
    expected = {
        "reference": "pass",
        "starter": "cancelled_is_clean",
        "orchestration_without_compensation": "cancelled_is_clean",
        "choreography_without_dedup": "cancelled_is_clean",
        "orchestration_timeout_means_failure": "cancelled_for_a_reason",
        "choreography_without_outbox": "orders_resolve",
    }

    parts: tuple[Scenario, ...] = tuple(get(name) for _, name in STYLES)
    functions = tuple(f for part in parts for f in part.functions)
    signatures = {k: v for part in parts for k, v in part.signatures.items()}
    invariants = tuple(dict.fromkeys(n for part in parts for n in part.invariants))
    fault_kinds = tuple(dict.fromkeys(k for part in parts for k in part.fault_kinds))

    def _read(self, stem: str) -> str:
        return compose(
            [
                (heading, part._read(name))
                for heading, part, name in zip(HEADINGS, self.parts, SOURCES[stem])
            ]
        )

    def statement_constants(self) -> dict[str, int | float | str]:
        out: dict[str, int | float | str] = {}
        for part in self.parts:
            out.update(part.statement_constants())
        return out

    def grade_composite(
        self, grade_part: Callable[[str, list[Fault] | None], Report]
    ) -> Report | None:
        reports = [(style, grade_part(name, None)) for style, name in STYLES]
        calm = {style: grade_part(name, []) for style, name in STYLES}
        return merge(reports, calm, self.checked)


def compose(sections: list[tuple[str, str]]) -> str:
    """One module from (heading, source) sections: their ``from saga_api import`` lines merged into
    one at the top (a learner reads one import, as in a file they wrote), then each source under its
    heading."""
    names: list[str] = []
    bodies: list[str] = []
    for heading, source in sections:
        line = IMPORT.match(source)
        if line is not None:
            names += [name.strip() for name in line.group(1).split(",")]
            source = source[line.end() :]
        body = source.strip("\n")
        bodies.append(f"{heading}\n\n\n{body}\n")
    head = f"from saga_api import {', '.join(dict.fromkeys(names))}\n\n" if names else ""
    return head + "\n\n".join(bodies)


def merge(
    reports: list[tuple[str, Report]], calm: dict[str, Report], checked: tuple[str, ...]
) -> Report:
    """One report for both styles (see the module docstring)."""
    failing = [(s, r) for s, r in reports if r["status"] != "passed"]
    status = failing[0][1]["status"] if failing else reports[0][1]["status"]
    if failing:
        message = " ".join(f"{s.capitalize()}: {r['message']}" for s, r in failing)
    else:
        message = " ".join(f"{s.capitalize()}: {r['message']}" for s, r in reports)
    invariants: list[InvariantResult] = []
    for name in checked:
        held = [i["held"] for _, r in reports for i in r["invariants"] if i["name"] == name]
        verdict = None if not held or None in held else all(held)
        invariants.append({**describe(name), "held": verdict})
    merged = new_report(status, message, invariants=invariants, seed=reports[0][1]["seed"])
    merged["lanes"] = list(reports[0][1]["lanes"])
    for style, report in reports:
        for v in report["violations"]:
            merged["violations"].append({**v, "title": f"{style}: {v['title']}"})
        merged["schedules_explored"] += report["schedules_explored"]
        for kind, n in report["fault_kinds_explored"].items():
            merged["fault_kinds_explored"][kind] = merged["fault_kinds_explored"].get(kind, 0) + n
        merged["output"] += report["output"]
        merged["output_dropped"] += report["output_dropped"]
        if "limit" in report and "limit" not in merged:
            merged["limit"] = report["limit"]
    merged["fault_kinds_explored"] = dict(sorted(merged["fault_kinds_explored"].items()))
    if failing:
        merged["counterexample"] = failing[0][1]["counterexample"]
    else:  # a replay (Run) that passed: the trace of the style its faults changed, else the first
        changed: list[Counterexample] = []
        unchanged: list[Counterexample] = []
        for style, report in reports:
            example, quiet = report["counterexample"], calm[style]["counterexample"]
            if example is not None:
                same = quiet is not None and example["trace"] == quiet["trace"]
                (unchanged if same else changed).append(example)
        traced = changed + unchanged
        merged["counterexample"] = traced[0] if traced else None
    merged["styles"] = {style: summarise(style, report, calm[style]) for style, report in reports}
    return merged


def summarise(style: str, report: Report, calm: Report) -> StyleSummary:
    """A style's verdict and its calm run: messages on the wire, hops per order, where the logic runs."""
    name = dict(STYLES)[style]
    trace: list[TraceStep] = (
        calm["counterexample"]["trace"] if calm["counterexample"] is not None else []
    )
    functions = set(get(name).functions)
    orders = {s["correlation_id"] for s in trace if s["service"] == "client"}
    messages = [s for s in trace if s["kind"] in WIRE_KINDS and s["service"] != "client"]
    logic: list[str] = []
    for step in trace:
        fn = step["detail"].partition(" -> ")[2].partition("(")[0]
        if step["kind"] == "deliver" and fn in functions and step["service"] not in logic:
            logic.append(step["service"])
    return {
        "status": report["status"],
        "message": report["message"],
        "schedules_explored": report["schedules_explored"],
        "calm_status": calm["status"],
        "messages": len(messages),
        "orders": len(orders),
        "hops_per_order": round(len(messages) / len(orders), 1) if orders else 0.0,
        "logic_in": logic,
        "trace": trace,
    }


SCENARIO = SagaStyles()
