"""A chaos test the learner writes: the learner plays the tester of the choreographed order saga.

The learner's module names the faults to explore, ``FAULTS = "crash, duplicate, ..."`` (kinds from
``MENU``), and defines ``check(run)``: given one finished run of the saga as plain data, it returns
the problems it sees (a list of messages; empty or None when the run is fine).

Everything that decides the verdict happens here, on the trusted side. For each of ``DATA_SEEDS``
data sets, the target implementations (the scenario ``order_saga_choreography``'s reference and a
hidden set of its buggy variants, all trusted code run in-process) are run under the learner's
faults: a calm run, then every single fault at every place it can happen, then ``RANDOM_RUNS``
seeded random schedules. Each finished run is handed to the learner's ``check`` through the runner
(inside the jail for a submission), one guest call per run. The learner's checks must accept the
reference on every schedule (``no_false_alarm``) and reject each hidden variant on some schedule with
a message that names what it saw (``every_bug_caught``). A variant stops being explored once caught.

The whole experiment is one run of this scenario's world: grading explores no schedules of its own
(``max_random_schedules = 0``), and the results are kept in the grading's answer cache so that a
replay of the same grading does not run the experiment again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ... import effects
from ...faults import FaultPlan
from ...invariants import INVARIANTS, Facts, Invariant
from ...rng import schedule_seed
from ...runner import InProcessRunner, Limits
from ...world import MAX_ROUND_TRIPS, Cache, WorkBudgetExceeded, World
from ..base import Scenario

if TYPE_CHECKING:
    from ...report import Fault

TARGET = "order_saga_choreography"

# The hidden buggy implementations (variant files of the target scenario), each described in words
# as a learner reads it when it goes unnoticed (never its code), and the fault kinds that can make it
# show (any one of them suffices on some schedule of the data sets explored).
HIDDEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing_compensation": (
        "an Order service that cancels an order after a failed payment but never asks Inventory to "
        "release its stock",
        (),
    ),
    "no_dedup": (
        "services that handle a redelivered event a second time (no inbox), so a duplicate reserves "
        "stock or takes money twice",
        ("duplicate", "relay_crash", "crash"),
    ),
    "non_idempotent_compensation": (
        "an Inventory that releases a reservation again each time ReleaseStock is delivered, so stock "
        "is created out of nothing",
        ("duplicate", "relay_crash", "crash"),
    ),
    "no_outbox": (
        "an Order service that publishes OrderCreated outside its transaction, so a crash between the "
        "two leaves an order that nobody ever hears about",
        ("crash",),
    ),
    "rebuilt_correlation_id": (
        "a Payment service that makes up a new correlation id for the events it publishes instead of "
        "passing the order's one on",
        (),
    ),
    "release_by_sku": (
        "an Inventory that, asked to release one order's stock, releases a reservation of another "
        "order for the same SKU",
        ("delay", "crash", "duplicate", "relay_crash"),
    ),
    "drops_late_success": (
        "an Order service that ignores a payment that succeeds after the order's timeout has "
        "cancelled it, so the customer pays for an order they will never get",
        ("late_answer",),
    ),
    "uncaught_duplicate_key": (
        "a handler that fails on a redelivered message instead of recognising it, so the message ends "
        "in the dead-letter queue",
        ("duplicate", "relay_crash", "crash"),
    ),
}

_MENU_SPLIT = re.compile(r"[\s,;]+")
# The tables of the saga's contract (sandbox/README.md, order_saga_choreography), per service.
CONTRACT_TABLES = {
    "order": ("orders",),
    "inventory": ("stock", "reservations"),
    "payment": ("accounts", "payments"),
}


class ChaosChecks(Scenario):
    name = "chaos_checks"
    title = "A chaos test you write"
    summary = (
        "Play the tester of the choreographed order saga: choose the faults to inject and write the "
        "checks that judge each finished run. Your checks must accept the correct saga on every "
        "schedule explored and catch each of a hidden set of buggy sagas, with a message that says "
        "what went wrong."
    )
    lanes = ("client", "order", "inventory", "payment")
    functions = ("check",)
    signatures = {"check": "check(run)"}
    invariants = ("faults_from_the_menu", "no_false_alarm", "every_bug_caught")
    # Judged over the whole experiment, not on one run: a missed bug or a bad menu has no trace to
    # show (showing the run where a hidden bug surfaced would give the bug away).
    judged_without_a_trace = ("faults_from_the_menu", "every_bug_caught")
    # The menu. This scenario's own world never fires a fault: the experiment hands them to the
    # target's runs (and reports what fired there).
    fault_kinds = (
        "crash",
        "duplicate",
        "delay",
        "relay_crash",
        "out_of_stock",
        "declined",
        "late_answer",
    )
    max_random_schedules = 0
    expected = {
        "reference": "pass",
        "starter": "every_bug_caught",
        "no_faults": "every_bug_caught",
        "charges_only": "every_bug_caught",
        "vague_messages": "every_bug_caught",
        "all_confirmed": "no_false_alarm",
        "no_duplicate_events": "no_false_alarm",
        "correlation_from_order_id": "no_false_alarm",
        "unknown_fault": "faults_from_the_menu",
    }
    MENU = fault_kinds
    DATA_SEEDS = 2  # data sets of the shop explored (each with its own single faults)
    RANDOM_RUNS = 12  # seeded random schedules per data set, after the single faults
    HIDDEN_BUGS = len(HIDDEN)
    MAX_MESSAGE = 300  # characters of a check's message kept

    def statement_constants(self) -> dict[str, int | float | str]:
        out = super().statement_constants()
        out["MENU"] = ", ".join(self.MENU)
        return out

    def configure(self, world: World, constants: dict[str, Any]) -> None:
        raw = constants.get("FAULTS", "")
        names = [n for n in _MENU_SPLIT.split(raw) if n] if isinstance(raw, str) else None
        world.notes["faults_raw"] = raw
        world.notes["faults"] = names

    def setup(self, world: World) -> None:
        names = world.notes["faults"]
        problems: list[str] = []
        if names is None:
            problems.append(
                f"FAULTS must be a string of fault names separated by commas, found "
                f"{type(world.notes['faults_raw']).__name__}"
            )
        else:
            problems += [
                f"{n!r} is not a fault this saga can be given (the menu: {', '.join(self.MENU)})"
                for n in names
                if n not in self.MENU
            ]
        world.notes["menu_problems"] = problems
        if problems:
            world.notes["experiment"] = None
            return
        kinds = tuple(k for k in self.MENU if k in names)
        world.notes["experiment"] = _experiment(self, world, kinds)
        first = world.notes["experiment"]["false_alarm"]
        if first is not None and world.tracing:
            world.trace.steps.extend(first["trace"])

    def facts(self, world: World) -> Facts:
        out: Facts = {"faults_from_the_menu": world.notes["menu_problems"]}
        exp = world.notes["experiment"]
        if exp is None:
            return {**out, "no_false_alarm": [], "every_bug_caught": []}
        alarm = exp["false_alarm"]
        out["no_false_alarm"] = (
            []
            if alarm is None
            else [
                f"check(run) rejected the correct saga ({alarm['where']}): {alarm['message']!r}",
            ]
        )
        out["every_bug_caught"] = [m["text"] for m in exp["missed"]]
        return out

    def exploration(self, world: World | None) -> tuple[int, dict[str, int]] | None:
        exp = None if world is None else world.notes.get("experiment")
        return None if not exp else (exp["runs"], dict(exp["fired"]))

    def passed_message(self, world: World | None) -> str | None:
        exp = None if world is None else world.notes.get("experiment")
        if not exp:
            return None
        return (
            f"Your checks accepted the correct saga on all {exp['reference_runs']} schedules explored "
            f"and caught all {len(HIDDEN)} hidden bugs, each with a message that names what it saw."
        )

    def failed_message(self, world: World, broken: dict[str, list[str]]) -> str | None:
        name, problems = next(iter(broken.items()))
        text = f"{INVARIANTS[name].title} broke: {problems[0]}"
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more bug(s) went unnoticed)"
        return text + "."


# -- the experiment ------------------------------------------------------------------------------


def _experiment(sc: ChaosChecks, world: World, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The whole experiment, kept in the grading's answer cache (learner answers included, so a
    replay or a shrink of this grading does not ask the learner again)."""
    key = Cache.key({"chaos_checks": "experiment", "kinds": list(kinds), "seed": world.seed})
    if world.cache is not None:
        hit = world.cache.get(key)
        if hit is not None:
            kept: dict[str, Any] = hit[1]
            return kept
    result = _run_experiment(sc, world, kinds)
    if world.cache is not None:
        world.cache.put(key, ("done", result))
    return result


def _run_experiment(sc: ChaosChecks, world: World, kinds: tuple[str, ...]) -> dict[str, Any]:
    from ...explore import _fault_text
    from .. import get

    target = get(TARGET)
    false_alarm: dict[str, Any] | None = None
    reference_runs = 0
    caught: dict[str, str] = {}
    vague: dict[str, str] = {}
    explored: dict[str, int] = {}
    fired: dict[str, int] = {}
    for d in range(sc.DATA_SEEDS):
        data_seed = schedule_seed(world.seed, 1000 + d)
        for name in ("reference", *HIDDEN):
            if name in caught or (name == "reference" and false_alarm is not None):
                continue
            source = target.variants[name][0]
            runner = InProcessRunner(source, Limits())
            cache = Cache(limit=8 * 1024 * 1024)
            for plan, seed in _plans(target, kinds, data_seed, runner, cache, sc.RANDOM_RUNS):
                run = _target_run(target, runner, cache, plan, seed, world)
                explored[name] = explored.get(name, 0) + 1
                for fault in run["faults"]:
                    fired[fault["kind"]] = fired.get(fault["kind"], 0) + 1
                found = _ask(sc, world, run)
                if name == "reference":
                    reference_runs += 1
                    if found:
                        where = (
                            "; ".join(_fault_text(f) for f in run["faults"]) or "no fault at all"
                        )
                        false_alarm = {"where": where, "message": found[0], "trace": run["trace"]}
                        break
                    continue
                named = [m for m in found if _names_something(m, run)]
                if named:
                    caught[name] = named[0]
                    break
                if found and name not in vague:
                    vague[name] = found[0]
    missed = []
    for name, (words, needs) in HIDDEN.items():
        if name in caught:
            continue
        text = f"{words} went unnoticed on all {explored.get(name, 0)} schedules explored"
        if name in vague:
            text += (
                f" (your check did complain, {vague[name]!r}, but the message names no order, "
                f"event, SKU, customer or correlation id of the run)"
            )
        elif needs and not set(needs) & set(kinds):
            text += " (none of your FAULTS can make this bug show)"
        missed.append({"variant": name, "text": text})
    return {
        "false_alarm": false_alarm,
        "reference_runs": reference_runs,
        "runs": sum(explored.values()),
        "fired": dict(sorted(fired.items())),
        "caught": caught,
        "missed": missed,
    }


def _plans(
    target: Scenario,
    kinds: tuple[str, ...],
    data_seed: int,
    runner: InProcessRunner,
    cache: Cache,
    random_runs: int,
) -> Any:
    """A calm run (discovering every fault site), each single fault, then seeded random schedules."""
    horizon = target.fault_horizon
    discovery = FaultPlan("discover", data_seed, None, kinds=kinds, horizon=horizon)
    yield discovery, data_seed
    singles: list[Fault] = sorted(
        discovery.sites, key=lambda f: (f["kind"] != "crash", f["site"].count(">"))
    )
    for fault in singles:
        yield FaultPlan("replay", data_seed, [fault], kinds=kinds, horizon=horizon), data_seed
    for i in range(random_runs if kinds else 0):
        seed = schedule_seed(data_seed, i)
        # The data set stays the same (the target draws it from the seed it runs with).
        yield FaultPlan("random", seed, None, kinds=kinds, horizon=horizon), data_seed


def _target_run(
    target: Scenario,
    runner: InProcessRunner,
    cache: Cache,
    plan: FaultPlan,
    seed: int,
    outer: World,
) -> dict[str, Any]:
    """One run of a trusted implementation, as the plain data the learner's check reads."""
    from ...explore import _trusted

    world = World(target, runner, _trusted(target), plan, seed, cache, {}, tracing=True)
    world.cpu_deadline = outer.cpu_deadline
    target.configure(world, {})
    target.setup(world)
    world.run()
    data = world.notes["shop"]
    return {
        "faults": [dict(f) for f in plan.fired],
        "orders": [
            {**order, "correlation_id": data["corr"][oid]} for oid, order in data["orders"].items()
        ],
        "initial": {
            "stock": dict(data["initial_stock"]),
            "balance": dict(data["initial_balance"]),
        },
        # Only the tables the saga's contract names: how a service dedups (its inbox, say) is its
        # own business, so a check judges what the saga did, not how it is built.
        "stores": {
            service: {table: dict(world.stores[service].rows(table)) for table in tables}
            for service, tables in CONTRACT_TABLES.items()
        },
        "events": [
            {k: m.get(k) for k in ("id", "type", "data", "correlation_id", "source")}
            for m in world.broker.published
        ],
        "dead_letters": [
            {"handler": handler, "id": m.get("id"), "type": m.get("type"), "why": why}
            for handler, m, why in world.broker.dlq
        ],
        "settled": world.finished,
        "trace": list(world.trace.steps),
    }


def _ask(sc: ChaosChecks, world: World, run: dict[str, Any]) -> list[str]:
    """One guest call: the learner's check on one run. Its answer is validated here."""
    if world.round_trips >= MAX_ROUND_TRIPS:
        raise WorkBudgetExceeded("the experiment asked your check about too many runs")
    raw = world.guest("check", {"op": "pure", "fn": "check", "args": [run]})
    res = effects.pure_response(raw)
    if not res["ok"]:
        where = res["traceback"].splitlines()[-1].strip() if res["traceback"] else ""
        return [f"check(run) raised {res['error']}" + (f" ({where})" if where else "")]
    value = res["value"]
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [
            f"check(run) returned {type(value).__name__}: it must return a list of messages "
            f"(strings), empty when the run is fine"
        ]
    return [v[: sc.MAX_MESSAGE] for v in value if v.strip()]


def _names_something(message: str, run: dict[str, Any]) -> bool:
    """A useful message names something of the run: an order, an event, a SKU, a customer or a
    correlation id."""
    ids: set[str] = set()
    for order in run["orders"]:
        for field in ("order_id", "customer", "sku", "correlation_id"):
            if isinstance(order.get(field), str):
                ids.add(order[field])
    ids |= {m["id"] for m in run["events"] if isinstance(m.get("id"), str)}
    ids |= {m["correlation_id"] for m in run["events"] if isinstance(m.get("correlation_id"), str)}
    return any(i and i in message for i in ids)


def _facts(name: str) -> Any:
    def check(world: World, facts: Facts) -> list[str]:
        found: list[str] = facts.get(name, [])
        return found

    return check


INVARIANTS["faults_from_the_menu"] = Invariant(
    "faults_from_the_menu",
    "Faults come from the menu",
    "FAULTS names the kinds of fault the experiment injects into the saga, separated by commas: only "
    "kinds the saga's world can produce (a crash part-way through a handler, a duplicated delivery, a "
    "delayed message, an outbox relay that crashes between publishing and marking sent, a SKU out of "
    "stock, a declined card, a step's answer that arrives only after the order's timeout has "
    "decided). Every run also includes a calm one, without any fault.",
    _facts("faults_from_the_menu"),
)
INVARIANTS["no_false_alarm"] = Invariant(
    "no_false_alarm",
    "No false alarm on the correct saga",
    "A check that fails a correct system is worse than no check: people learn to ignore it. Your "
    "check must accept every run of the correct saga, under every fault you asked for. At-least-once "
    "delivery means duplicates and redeliveries are normal (the same event id can be published "
    "twice); a cancelled order is legitimate when stock or money really ran out; a check must judge "
    "the end state and the events against what the saga promises, not against one calm run.",
    _facts("no_false_alarm"),
)
INVARIANTS["every_bug_caught"] = Invariant(
    "every_bug_caught",
    "Every hidden bug is caught",
    "Each buggy saga in the hidden set must fail your check on at least one schedule, with a message "
    "that names what it saw (an order id, an event id, a SKU, a customer or a correlation id), so the "
    "engineer who reads it knows where to look. A bug only shows under the right fault: a check that "
    "never asks for duplicates cannot see a service that charges twice on a duplicate.",
    _facts("every_bug_caught"),
)

SCENARIO = ChaosChecks()
