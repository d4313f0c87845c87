"""Grading: explore fault schedules, stop at the first broken invariant, shrink it.

1. one calm run, which also discovers every site where a fault could fire;
2. every single fault at every discovered site (every crash point, every
   duplicate, every lost reply, ...), one schedule each;
3. ``random_schedules`` seeded random schedules (each fault kind on or off and
   at its own rate, chosen from the schedule's seed).
The first failing schedule is shrunk: faults are removed one at a time while
the run still breaks an invariant it broke before, preferring the shortest
trace; the report carries the shrunk schedule and its trace.
"""

from __future__ import annotations

import time
from typing import Any

from . import effects, scenarios
from .faults import FAULT_KINDS, FaultPlan
from .invariants import INVARIANTS, describe
from .report import Fault, Limit, Report, Status, add_extra, new_report
from .rng import schedule_seed
from .runner import InProcessRunner, Limits, Runner, RunnerError, RunnerFactory
from .scenarios.base import Scenario
from .world import Cache, WorkBudgetExceeded, World

MAX_SHRINK_RUNS = 150
MAX_GRADE_ROUND_TRIPS = 200_000  # across a whole grading; references need a few thousand
# CPU this process may spend simulating on the learner's behalf in one grading (the guest's own
# CPU is limited inside the jail). References need well under 2 s for 500 schedules.
HOST_CPU_SECONDS = 45.0
_TRUSTED: dict[str, InProcessRunner] = {}
# A runner error that is a limit of the learner's process (the rest are errors).
_RUNNER_LIMITS = {"timeout": Limit.TIMEOUT, "cpu": Limit.CPU}
Broken = dict[str, list[str]]  # invariant name -> the problems found
# A failing schedule as found: (run seed, faults fired, what broke).
Failure = tuple[int, list[Fault], Broken]


class Session:
    """One grading: one learner runner, one trusted runner, a shared answer cache."""

    def __init__(self, scenario: Scenario, runner: Runner, constants: dict[str, Any]) -> None:
        self.scenario = scenario
        self.runner = runner
        self.trusted = _trusted(scenario)
        self.constants = constants
        self.cache = Cache()
        self.runs = 0
        self.round_trips = 0
        # thread_time: the CPU of this grading alone, whatever else the process or the machine
        # is doing (a busy host slows a grading down but never makes it "too much work").
        self.cpu_deadline = time.thread_time() + HOST_CPU_SECONDS

    def run(self, plan: FaultPlan, seed: int, tracing: bool = True) -> tuple[World, Broken]:
        world = World(
            self.scenario,
            self.runner,
            self.trusted,
            plan,
            seed,
            self.cache,
            self.constants,
            tracing=tracing,
        )
        world.cpu_deadline = self.cpu_deadline
        try:
            self.scenario.configure(world, self.constants)
            self.scenario.setup(world)
            world.run()
            # Trips that really reached the learner's runner: the work this grading cost. (The
            # per-run budget counts every call, cached or not, so that replays end alike.)
            self.round_trips += world.jail_trips
            facts = self.scenario.facts(world)
            broken: Broken = {}
            for name in self.scenario.checked:
                problems = INVARIANTS[name].check(world, facts)
                if problems:
                    broken[name] = problems
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            # Learner data of an unexpected shape (an unhashable order id, a row that is not what
            # the scenario documents) must end as a clear error, never as a crash of the grader.
            raise effects.GuestProtocolError(
                f"the simulator could not use what your code produced ({type(exc).__name__}: {exc}); "
                f"check the shape of the rows and events your code writes"
            ) from exc
        self.runs += 1
        return world, broken


def _trusted(scenario: Scenario) -> InProcessRunner:
    if scenario.name not in _TRUSTED:
        _TRUSTED[scenario.name] = InProcessRunner(scenario.world_source or "", fresh=False)
    return _TRUSTED[scenario.name]


def _plan(
    scenario: Scenario, mode: str, seed: int, schedule: list[Fault] | None = None
) -> FaultPlan:
    return FaultPlan(
        mode, seed, schedule, kinds=scenario.fault_kinds, horizon=scenario.fault_horizon
    )


def _describe_learner(scenario: Scenario, runner: Runner) -> tuple[list[str], dict[str, Any]]:
    info = effects.describe_response(runner.request({"op": "describe"}))
    missing = [f for f in scenario.functions if f not in info["functions"]]
    return missing, info["constants"]


def shrink(
    session: Session, seed: int, schedule: list[Fault], target: set[str]
) -> tuple[list[Fault], World, Broken]:
    """Fewest faults first, then the shortest trace."""
    sc = session.scenario
    best_world, best_broken = session.run(_plan(sc, "replay", seed, schedule), seed)
    current = list(best_world.plan.fired)
    budget = MAX_SHRINK_RUNS
    while current and budget > 0:
        found: tuple[tuple[int, int], World, Broken] | None = None
        for i in range(len(current)):
            if budget <= 0:
                break
            budget -= 1
            candidate = current[:i] + current[i + 1 :]
            world, broken = session.run(_plan(sc, "replay", seed, candidate), seed)
            if set(broken) & target:
                key = (len(world.plan.fired), len(world.trace.steps))
                if found is None or key < found[0]:
                    found = (key, world, broken)
        if found is None:
            break
        _, best_world, best_broken = found
        current = list(best_world.plan.fired)
    return current, best_world, best_broken


def grade(
    scenario: str,
    source: str,
    *,
    runner_factory: RunnerFactory | None = None,
    seed: int = 0,
    random_schedules: int = 500,
    limits: Limits | None = None,
) -> Report:
    return _grade(scenario, source, runner_factory, seed, random_schedules, limits, None)


def replay(
    scenario: str,
    source: str,
    seed: int,
    schedule: list[Fault],
    runner_factory: RunnerFactory | None = None,
) -> Report:
    return _grade(scenario, source, runner_factory, seed, 0, None, list(schedule or []))


def simulate(
    scenario: str,
    source: str,
    plan: FaultPlan,
    seed: int = 0,
    runner_factory: RunnerFactory | None = None,
) -> Report:
    """One run with a ready-made fault plan (playgrounds); the report always carries the trace."""
    return _grade(scenario, source, runner_factory, seed, 0, None, plan)


def _grade(
    name: str,
    source: str,
    runner_factory: RunnerFactory | None,
    seed: int,
    random_schedules: int,
    limits: Limits | None,
    schedule: list[Fault] | FaultPlan | None,
) -> Report:
    started = time.perf_counter()
    try:
        sc = scenarios.get(name)
    except KeyError as exc:
        return new_report(Status.ERROR, str(exc.args[0]), seed=seed)
    if not isinstance(schedule, FaultPlan):  # a composite scenario grades its parts, same path

        def part(name: str, part_schedule: list[Fault] | None) -> Report:
            given = schedule if part_schedule is None else part_schedule
            explored = random_schedules if given is None else 0
            return _grade(name, source, runner_factory, seed, explored, limits, given)

        composite = sc.grade_composite(part)
        if composite is not None:
            composite["duration_ms"] = int((time.perf_counter() - started) * 1000)
            return composite
    report = new_report(
        Status.ERROR,
        # None reads "not checked": only a finished exploration says an invariant held.
        invariants=[{**describe(n), "held": None} for n in sc.checked],
        seed=seed,
        lanes=list(sc.lanes),
    )
    runner = None
    try:
        runner = (runner_factory or InProcessRunner)(source, limits or Limits())
        missing, constants = _describe_learner(sc, runner)
        if missing:
            report["status"] = Status.FAILED
            report["message"] = (
                "Your code must define "
                + ", ".join(sc.signatures.get(f, f + "(...)") for f in missing)
                + "."
            )
        else:
            session = Session(sc, runner, constants)
            _explore(session, report, seed, random_schedules, schedule)
    except RunnerError as exc:
        limit = _RUNNER_LIMITS.get(exc.kind)
        report["status"] = Status.ERROR if limit is None else Status.TIMEOUT
        report["message"] = exc.message
        report["limit"] = limit
    except WorkBudgetExceeded as exc:
        report["status"] = Status.TIMEOUT
        report["message"] = str(exc)
        report["limit"] = Limit.WORK
    except MemoryError:
        report["status"] = Status.TIMEOUT
        report["limit"] = Limit.WORK
        report["message"] = str(
            WorkBudgetExceeded("simulating what it did needed more memory than a grading may use")
        )
    except effects.GuestProtocolError as exc:
        report["status"] = Status.ERROR
        report["message"] = str(exc)
    except Exception as exc:  # noqa: BLE001  (a report, never a crashed grading task)
        report["status"] = Status.ERROR
        report["message"] = (
            f"The simulator failed unexpectedly ({type(exc).__name__}: {exc}). "
            f"This is a bug in the course, not in your code."
        )
    finally:
        if runner is not None:
            try:
                report["output"], report["output_dropped"] = runner.output()
            finally:
                runner.close()
    report["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return report


def _explore(
    session: Session,
    report: Report,
    seed: int,
    random_schedules: int,
    schedule: list[Fault] | FaultPlan | None,
) -> None:
    sc = session.scenario
    kinds: dict[str, int] = {}
    failure: Failure | None = None
    last_world: World | None = None

    def attempt(plan: FaultPlan, run_seed: int) -> Failure | None:
        nonlocal last_world
        # Searching, no trace is built: a failing schedule is replayed by shrink(), traced.
        world, broken = session.run(plan, run_seed, tracing=schedule is not None)
        last_world = world
        for fault in plan.fired:
            kinds[fault["kind"]] = kinds.get(fault["kind"], 0) + 1
        return (run_seed, list(plan.fired), broken) if broken else None

    if isinstance(schedule, FaultPlan):
        failure = attempt(schedule, seed)
        schedule = list(schedule.fired)
    elif schedule is not None:
        failure = attempt(_plan(sc, "replay", seed, schedule), seed)
    else:
        discovery = _plan(sc, "discover", seed)
        failure = attempt(discovery, seed)
        # Crash points first, outermost handlers (shortest sites) before the services they
        # call: they make the most telling counterexamples.
        singles = sorted(
            discovery.sites,
            key=lambda f: (
                f["kind"] != "crash",
                f["site"].count(">") if f["kind"] == "crash" else 0,
            ),
        )
        for fault in singles if failure is None else ():
            failure = attempt(_plan(sc, "replay", seed, [fault]), seed)
            if failure or session.round_trips > MAX_GRADE_ROUND_TRIPS:
                break
        if sc.max_random_schedules is not None:
            random_schedules = min(random_schedules, sc.max_random_schedules)
        for i in range(random_schedules if failure is None else 0):
            if session.round_trips > MAX_GRADE_ROUND_TRIPS:
                report["fault_kinds_explored"] = dict(sorted(kinds.items()))
                report["status"] = Status.TIMEOUT
                report["schedules_explored"] = session.runs
                report["limit"] = Limit.WORK
                report["message"] = (
                    f"Your code made the simulator do too much work: grading stopped after {session.runs} "
                    f"schedules, your code was called "
                    f"{session.round_trips} times, far more than this scenario needs. Look for loops that "
                    f"retry very often (a short RetryLater, or many calls per message)."
                )
                return
            run_seed = schedule_seed(seed, i)
            failure = attempt(_plan(sc, "random", run_seed), run_seed)
            if failure:
                break
    explored = session.runs
    counted = sc.exploration(last_world)  # a run that is a whole experiment counts its own runs
    if counted is not None:
        explored, kinds = counted
    report["fault_kinds_explored"] = dict(sorted(kinds.items()))
    add_extra(report, sc.extra_report(last_world))
    if failure is None:
        report["schedules_explored"] = explored
        for inv in report["invariants"]:
            inv["held"] = True
        report["status"] = Status.PASSED
        report["message"] = sc.passed_message(last_world) or _passed_message(
            sc, explored, schedule is not None
        )
        if schedule is not None:
            assert last_world is not None  # a replay runs its schedule once
            report["counterexample"] = {
                "seed": seed,
                "schedule": schedule,
                "trace": last_world.trace.steps,
            }
        return
    run_seed, fired, broken = failure
    if schedule is None:
        found = broken
        fired, world, broken = shrink(session, run_seed, fired, set(found))
        if not broken:
            # The recorded faults alone did not reproduce it (a fault site that only a random plan
            # reaches): report the run as it was found, traced, rather than nothing.
            plan = _plan(sc, "random", run_seed)
            world, broken = session.run(plan, run_seed)
            fired = list(plan.fired)
            broken = broken or found
    else:
        assert last_world is not None  # the replay that failed
        world = last_world
    report["schedules_explored"] = explored
    add_extra(report, sc.extra_report(world))
    report["violations"] = [{**describe(n), "detail": "; ".join(p[:3])} for n, p in broken.items()]
    for inv in report["invariants"]:
        inv["held"] = inv["name"] not in broken
    report["counterexample"] = {"seed": run_seed, "schedule": fired, "trace": world.trace.steps}
    report["status"] = Status.FAILED
    report["message"] = sc.failed_message(world, broken) or _failed_message(broken, fired, world)


def _passed_message(sc: Scenario, explored: int, replaying: bool) -> str:
    if replaying:
        return "This schedule keeps every invariant."
    return (
        f"All {len(sc.checked)} invariants held across {explored} fault schedules "
        f"(each single fault at every place it can happen, then random combinations)."
    )


def _failed_message(broken: Broken, fired: list[Fault], world: World) -> str:
    name, problems = next(iter(broken.items()))
    inv = INVARIANTS[name]
    text = f"{inv.title} broke: {problems[0]}."
    if len(broken) > 1:
        text += " Also broken: " + ", ".join(INVARIANTS[n].title for n in list(broken)[1:]) + "."
    if fired:
        text += " Shortest schedule found: " + "; ".join(_fault_text(f) for f in fired) + "."
    else:
        text += " It breaks even without any fault."
    if world.errors:
        lines = world.errors[0].splitlines()
        where = [ln.strip() for ln in lines[1:] if ln.strip().startswith("line ")]
        text += f" Your code raised an exception: {lines[0]}" + (f" ({where[-1]})" if where else "")
    return text


def _fault_text(fault: Fault) -> str:
    """A learner-readable account of one fault."""
    kind, site = fault["kind"], fault["site"]
    if ">" in site:  # an RPC: caller site > service.op#n
        caller, callee = site.rsplit(">", 1)
        callee = callee.split("#")[0].replace("+twin", "")
        service, _, op = callee.partition(".")
        texts = {
            "crash": f"{service} crashed while handling {op}" + _position(fault),
            "request_lost": f"the request {op} to {service} was lost",
            "reply_lost": f"{service} handled {op} but its reply was lost",
            "concurrent": f"a second copy of {op} reached {service} at the same time",
            "late_reply": f"{op} to {service} was slow: the caller timed out and {service} acted later",
        }
        return texts.get(kind, f"{kind} at {site}")
    if ":" in site and "#" in site and "." in site.split(":")[0]:  # a delivery: service.fn:msg#n
        handler, _, rest = site.partition(":")
        message, _, n = rest.partition("#")
        texts = {
            "crash": f"{handler.split('.')[0]} crashed in {handler.split('.')[1]}() handling "
            f"{message} (delivery {n})" + _position(fault),
            "duplicate": f"the broker delivered {message} twice to {handler}()",
            "delay": f"the broker delayed {message} on its way to {handler}()",
        }
        return texts.get(kind, f"{kind} at {site}")
    if kind == "relay_crash":
        service, _, rest = site.partition(":")
        return f"{service}'s outbox relay crashed after publishing {rest.split('#')[0]}, before marking it sent"
    if kind == "delay":
        message, _, target = site.partition(">")
        return f"the broker delayed {message} on its way to {target}()"
    return f"{FAULT_KINDS.get(kind, kind)} ({site})"


def _position(fault: Fault) -> str:
    at = int(fault.get("at", 0))
    return " before doing anything" if at == 0 else f" after {at} effect(s)"
