"""Exercises from files: exercises/content/<slug>/{exercise.yaml, statement.md, [starter.py],
[solution.py], [variants/<name>.py]}.

- Idempotent: a new ExerciseVersion only when the content hash changes; the
  exercise is (re)published at its newest file version.
- A missing starter, solution or variants come from the simulator's scenario registry.
- Bad content raises ContentError(path, line, reason).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from courseapp.lib.content import ContentError, LoadReport, read_yaml
from courseapp.lib.markdown import render_html as render_markdown
from courseapp.lib.modules import MODULES
from exercises.models import Exercise, ExerciseVersion
from sandbox import scenarios
from sandbox.runner import Limits

REQUIRED = ("title", "module", "order", "scenario", "summary", "hints")
OPTIONAL = ("reveal_after", "limits", "random_schedules", "variants", "difficulty", "minutes")
DIFFICULTIES = ("introductory", "intermediate", "advanced")
DEFAULT_REVEAL_AFTER = 5
DEFAULT_RANDOM_SCHEDULES = 500
CONTENT_DIR = Path(__file__).resolve().parent / "content"


@dataclass
class ExerciseSpec:
    slug: str
    title: str
    module: int
    order: int
    summary: str
    scenario: str
    statement: str
    starter: str
    solution: str
    hints: list[str]
    reveal_after: int = DEFAULT_REVEAL_AFTER
    random_schedules: int = DEFAULT_RANDOM_SCHEDULES
    limits: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)  # name -> {"source", "expected"}
    # Shown on the exercise cards; like the title, not part of what is graded.
    difficulty: str = ""
    minutes: int | None = None

    def content_hash(self) -> str:
        data = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("title", "module", "order", "summary", "difficulty", "minutes")
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _scenario(name: str, path: Path):
    if name not in scenarios.NAMES:
        raise ContentError(
            path,
            _line_of(path, "scenario"),
            f"unknown simulator scenario {name!r} (known: {', '.join(scenarios.NAMES)})",
        )
    # A scenario that fails to import is a bug in the simulator, not bad content: let it raise.
    return scenarios.get(name)


def _line_of(path: Path, key: str) -> int | None:
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith(f"{key}:"):
                return number
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(path, None, "missing file") from None
    except UnicodeDecodeError as exc:
        raise ContentError(path, None, f"not valid UTF-8 ({exc.reason})") from None


def _python(path: Path, text: str | None = None) -> str:
    source = _read_text(path) if text is None else text
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ContentError(path, exc.lineno, f"Python syntax error: {exc.msg}") from None
    return source


def read_exercise(directory: Path) -> ExerciseSpec:
    meta_path = directory / "exercise.yaml"
    meta = read_yaml(meta_path)
    if not isinstance(meta, dict):
        raise ContentError(meta_path, 1, "exercise.yaml must be a mapping of keys to values")
    for key in REQUIRED:
        if key not in meta:
            raise ContentError(meta_path, None, f"missing required key {key!r}")
    unknown = set(meta) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        key = sorted(unknown)[0]
        raise ContentError(meta_path, _line_of(meta_path, key), f"unknown key {key!r}")

    def fail(key, reason):
        raise ContentError(meta_path, _line_of(meta_path, key), reason)

    if not isinstance(meta["title"], str) or not meta["title"].strip():
        fail("title", "title must be a non-empty string")
    if meta["module"] not in MODULES:
        fail("module", f"module must be one of {sorted(MODULES)}")
    if not isinstance(meta["order"], int) or meta["order"] < 0:
        fail("order", "order must be a whole number >= 0")
    if not isinstance(meta["summary"], str):
        fail("summary", "summary must be a string")
    hints = meta["hints"]
    if (
        not isinstance(hints, list)
        or not hints
        or not all(isinstance(h, str) and h.strip() for h in hints)
    ):
        fail("hints", "hints must be a non-empty list of non-empty strings")
    reveal_after = meta.get("reveal_after", DEFAULT_REVEAL_AFTER)
    if not isinstance(reveal_after, int) or not 1 <= reveal_after <= 100:
        fail("reveal_after", "reveal_after must be a whole number from 1 to 100")
    random_schedules = meta.get("random_schedules", DEFAULT_RANDOM_SCHEDULES)
    if not isinstance(random_schedules, int) or not 0 <= random_schedules <= 5000:
        fail("random_schedules", "random_schedules must be a whole number from 0 to 5000")
    limits = meta.get("limits") or {}
    _check_limits(limits, meta_path)
    difficulty = meta.get("difficulty", "")
    if difficulty not in ("", *DIFFICULTIES):
        fail("difficulty", f"difficulty must be one of {', '.join(DIFFICULTIES)}")
    minutes = meta.get("minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 600
    ):
        fail("minutes", "minutes must be a whole number from 1 to 600")

    scenario = (
        _scenario(meta["scenario"], meta_path)
        if isinstance(meta["scenario"], str)
        else fail("scenario", "scenario must be a string")
    )
    solution_path = directory / "solution.py"
    solution = _python(solution_path) if solution_path.exists() else scenario.reference_source
    # Like the solution, the starter defaults to the scenario's own.
    starter_path = directory / "starter.py"
    starter = _python(starter_path) if starter_path.exists() else scenario.starter_source
    variants = _variants(directory, meta, meta_path, scenario)
    return ExerciseSpec(
        slug=directory.name,
        title=meta["title"].strip(),
        module=meta["module"],
        order=meta["order"],
        summary=meta["summary"].strip(),
        scenario=meta["scenario"],
        statement=render_constants(
            _read_text(directory / "statement.md"), scenario, directory / "statement.md"
        ),
        starter=starter,
        solution=solution,
        hints=[h.strip() for h in hints],
        reveal_after=reveal_after,
        random_schedules=random_schedules,
        limits=limits,
        variants=variants,
        difficulty=difficulty,
        minutes=minutes,
    )


_CONSTANT = re.compile(r"\{\{\s*([A-Z][A-Z0-9_]*)\s*\}\}")


def render_constants(text: str, scenario, path: Path) -> str:
    """Put the numbers the grader uses into a statement: ``{{ NAME }}`` becomes the scenario's own
    ``statement_constants()[NAME]``, so a statement can never drift from what is graded."""
    values = scenario.statement_constants() if hasattr(scenario, "statement_constants") else {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            line = text[: match.start()].count("\n") + 1
            known = ", ".join(sorted(values)) or "none"
            raise ContentError(
                path,
                line,
                f"{{{{ {name} }}}} is not a constant of scenario "
                f"{getattr(scenario, 'name', '?')!r} (known: {known})",
            )
        return str(values[name])

    return _CONSTANT.sub(value, text)


def _check_limits(limits, path: Path) -> None:
    if not isinstance(limits, dict):
        raise ContentError(path, _line_of(path, "limits"), "limits must be a mapping")
    for key, value in limits.items():
        if key not in Limits.__dataclass_fields__:
            raise ContentError(
                path,
                _line_of(path, "limits"),
                f"unknown limit {key!r}; known: {', '.join(Limits.__dataclass_fields__)}",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ContentError(
                path, _line_of(path, "limits"), f"limit {key!r} must be a positive number"
            )


def _variants(directory: Path, meta: dict, meta_path: Path, scenario) -> dict:
    files = {p.stem: p for p in sorted((directory / "variants").glob("*.py"))}
    registry = {
        name: pair
        for name, pair in (getattr(scenario, "variants", None) or {}).items()
        if name not in ("reference", "starter")
    }
    declared = meta.get("variants")
    if declared is None:
        if files:
            raise ContentError(
                files[next(iter(files))],
                None,
                "variant files need their expected invariant under 'variants:' in exercise.yaml",
            )
        return {
            name: {"source": source, "expected": expected}
            for name, (source, expected) in registry.items()
        }
    if not isinstance(declared, dict):
        raise ContentError(
            meta_path, _line_of(meta_path, "variants"), "variants must map a name to an invariant"
        )
    invariants = set(
        getattr(scenario, "checked", None) or getattr(scenario, "invariants", ()) or ()
    ) | {"pass"}
    out = {}
    for name, expected in declared.items():
        if expected not in invariants:
            raise ContentError(
                meta_path,
                _line_of(meta_path, "variants"),
                f"variant {name!r} expects {expected!r}, which is not an invariant of the scenario",
            )
        if name in files:
            source = _python(files[name])
        elif name in registry:
            source = registry[name][0]
        else:
            raise ContentError(
                meta_path,
                _line_of(meta_path, "variants"),
                f"variant {name!r} has no file variants/{name}.py and the scenario has no such variant",
            )
        out[name] = {"source": source, "expected": expected}
    for stem, path in files.items():
        if stem not in declared:
            raise ContentError(
                path, None, f"variant {stem!r} is not listed under 'variants:' in exercise.yaml"
            )
    return out


def slugs_in(directory: Path = CONTENT_DIR) -> set[str]:
    """The exercise slugs a content folder holds (lessons link to them)."""
    return {path.parent.name for path in directory.glob("*/exercise.yaml")}


def read_all(directory: Path = CONTENT_DIR) -> list[ExerciseSpec]:
    return [read_exercise(path.parent) for path in sorted(directory.glob("*/exercise.yaml"))]


def load_exercises(directory: Path, report: LoadReport) -> None:
    specs = read_all(directory)
    seen = set()
    for spec in specs:
        seen.add(spec.slug)
        exercise, created = Exercise.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "title": spec.title,
                "module": spec.module,
                "order": spec.order,
                "summary": spec.summary,
                "difficulty": spec.difficulty,
                "minutes": spec.minutes,
            },
        )
        meta = (spec.title, spec.module, spec.order, spec.summary, spec.difficulty, spec.minutes)
        meta_changed = (
            exercise.title,
            exercise.module,
            exercise.order,
            exercise.summary,
            exercise.difficulty,
            exercise.minutes,
        ) != meta
        (
            exercise.title,
            exercise.module,
            exercise.order,
            exercise.summary,
            exercise.difficulty,
            exercise.minutes,
        ) = meta
        digest = spec.content_hash()
        latest = exercise.latest_version()
        if latest is None or latest.content_hash != digest:
            latest = ExerciseVersion.objects.create(
                exercise=exercise,
                number=(latest.number + 1) if latest else 1,
                scenario=spec.scenario,
                statement=spec.statement,
                statement_html=render_markdown(spec.statement),
                starter=spec.starter,
                solution=spec.solution,
                variants=spec.variants,
                hints=spec.hints,
                limits=spec.limits,
                reveal_after=spec.reveal_after,
                random_schedules=spec.random_schedules,
                content_hash=digest,
            )
            meta_changed = True
        republished = exercise.published_version_id != latest.pk
        exercise.published_version = latest
        exercise.save()
        if created:
            report.note("exercises", "added", spec.slug)
        elif meta_changed or republished:
            report.note("exercises", "changed", spec.slug)
    # Exercises whose files are gone stop being published (their submissions stay).
    gone = (
        Exercise.objects.published()
        .exclude(slug__in=seen)
        .filter(published_version__created_by__isnull=True)
    )
    for exercise in gone:
        exercise.published_version = None
        exercise.save(update_fields=["published_version"])
        report.note("exercises", "removed", exercise.slug)
    report.counts["exercises"] = len(specs)
