"""What every scenario declares: its services, the learner's slot, the trusted
world code, the faults it explores, the invariants it checks, and its sources
(reference, starter and known-buggy variants, as files next to it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..report import ExtraReport, Fault, Report

# A trusted operation answered directly, without running any code as a service: (world, request
# data) -> the result.
DirectOp = Callable[["World", dict[str, Any]], dict[str, Any]]

if TYPE_CHECKING:  # a scenario sets up and reads a world; the world module imports no scenario
    from ..broker import Subscription
    from ..invariants import Facts
    from ..world import World


class Scenario:
    name = ""
    title = ""
    summary = ""
    lanes: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()  # learner function names
    signatures: dict[str, str] = {}  # name -> "on_x(event, ctx)" for messages
    invariants: tuple[str, ...] = ()
    # Invariants judged over a whole grading rather than one run: their failures carry no trace.
    judged_without_a_trace: tuple[str, ...] = ()
    fault_kinds: tuple[str, ...] = ()
    # (service, op) -> the function (world.py's or the learner's) that handles it, or a direct op
    rpc_ops: dict[tuple[str, str], str | DirectOp] = {}
    idempotent_services: tuple[str, ...] = ()  # get the platform's idempotency-key layer
    expected: dict[str, str] = {}  # variant file stem -> "pass" | invariant name
    fault_horizon = 3000
    # None: grading explores as many random schedules as it is asked to. A scenario whose one run
    # is a whole experiment (chaos_checks) caps it.
    max_random_schedules: int | None = None

    @property
    def checked(self) -> tuple[str, ...]:
        """What grading checks: the declared invariants, plus "settles" for every world."""
        return tuple(self.invariants) + (() if "settles" in self.invariants else ("settles",))

    @property
    def directory(self) -> Path:
        return Path(__file__).resolve().parent / self.name

    def _read(self, stem: str) -> str:
        return (self.directory / f"{stem}.py").read_text()

    @cached_property
    def world_source(self) -> str:
        """The trusted participants (world.py), run in-process by the simulator, never in the jail.

        world.py is an ordinary module: what it shares with other worlds it imports by its full
        name (``from sandbox.scenarios.world_prelude import _replay, _save``), and that import is
        resolved by the trusted process that runs the simulator. Learner code cannot make the same
        import: the jail shows it only ``sandbox/guest/`` and the standard library."""
        path = self.directory / "world.py"
        return path.read_text() if path.exists() else ""

    @cached_property
    def reference_source(self) -> str:
        return self._read("reference")

    @cached_property
    def starter_source(self) -> str:
        return self._read("starter")

    @cached_property
    def variants(self) -> dict[str, tuple[str, str]]:
        return {stem: (self._read(stem), outcome) for stem, outcome in self.expected.items()}

    # -- hooks ----------------------------------------------------------------
    def setup(self, world: World) -> None:
        raise NotImplementedError

    def facts(self, world: World) -> Facts:
        return {}

    def observe(self, world: World, subscription: Subscription, msg: dict[str, Any]) -> None:
        """Called as a message is delivered (e.g. to spot ghost events)."""

    def overloaded(self, world: World, service: str) -> bool:
        return False

    def extra_report(self, world: World | None) -> ExtraReport:
        """Keys this scenario adds to its reports (``world``: the last run, if any)."""
        return {}

    def statement_constants(self) -> dict[str, int | float | str]:
        """The numbers an exercise statement may quote as ``{{ NAME }}``: the values the grader uses.
        By default every UPPER_CASE class attribute that is a plain number, string or tuple of them."""
        out: dict[str, int | float | str] = {}
        for name in dir(self):
            value = getattr(self, name, None)
            if (
                name.isupper()
                and isinstance(value, (int, float, str))
                and not isinstance(value, bool)
            ):
                out[name] = value
        return out

    def configure(self, world: World, constants: dict[str, Any]) -> None:
        """Read learner constants (e.g. MAX_ATTEMPTS) before the run."""

    def run_pure(self, world: World) -> None:
        """Scenarios whose learner slot is plain functions drive them here."""

    def passed_message(self, world: World | None) -> str | None:
        """The verdict's message when everything held (None: the simulator's usual words)."""
        return None

    def failed_message(self, world: World, broken: dict[str, list[str]]) -> str | None:
        """The verdict's message when something broke (None: the simulator's usual words)."""
        return None

    def exploration(self, world: World | None) -> tuple[int, dict[str, int]] | None:
        """(schedules explored, faults fired per kind) when this scenario's run explores schedules
        of its own (None: the grading's counts)."""
        return None

    def grade_composite(
        self, grade_part: Callable[[str, list[Fault] | None], Report]
    ) -> Report | None:
        """A scenario made of others (saga_styles) grades each part with ``grade_part(scenario name,
        schedule)`` (None: explore; a list: replay it) and merges the reports. None: an ordinary scenario."""
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "lanes": list(self.lanes),
            "functions": list(self.functions),
            "signatures": dict(self.signatures),
            "invariants": list(self.invariants),
            "fault_kinds": list(self.fault_kinds),
            "variants": dict(self.expected),
        }


def commit_outbox(
    world: World, service: str, messages: list[tuple[str, dict[str, Any], str]]
) -> None:
    """Trusted setup: put events in a service's outbox as if a transaction had committed them."""
    world.stores[service].commit(
        [], [{"type": t, "data": d, "correlation_id": c} for t, d, c in messages]
    )
    world.relay.kick(service)


def send_commands(
    world: World, source: str, commands: list[tuple[str, dict[str, Any], str]], spacing: int = 5
) -> None:
    """Trusted setup: a client sends commands through the broker (at least once, like everything)."""
    for i, (type, data, corr) in enumerate(commands):
        msg = {
            "id": f"cmd-{i + 1}",
            "type": type,
            "data": data,
            "correlation_id": corr,
            "source": source,
        }
        world.sched.at(i * spacing, world.broker.publish, source, msg)
