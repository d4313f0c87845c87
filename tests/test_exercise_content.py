"""Exercise content files: complete, matching the course outline, loaded idempotently."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from courseapp.lib.content import ContentError, LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises, read_all
from exercises.models import Exercise, ExerciseVersion

OUTLINE = Path(__file__).resolve().parent.parent / "docs" / "course-outline.md"


def _outline_rows():
    text = OUTLINE.read_text().split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return {
        m[0]: (m[1], int(m[2]))
        for m in re.findall(r"^\| ([a-z-]+) \| ([a-z_]+) \| (\d) \|$", text, re.M)
    }


def _load(directory=CONTENT_DIR) -> LoadReport:
    report = LoadReport()
    load_exercises(directory, report)
    return report


def _copy_one(tmp_path, slug="idempotent-consumer") -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR / slug, root / slug)
    return root


def test_every_exercise_of_the_outline_has_content_with_its_scenario_and_module():
    specs = {spec.slug: (spec.scenario, spec.module) for spec in read_all()}
    assert len(_outline_rows()) >= 12  # the course's first twelve, then one per new scenario
    assert specs == _outline_rows()


@pytest.mark.parametrize("spec", read_all(), ids=lambda spec: spec.slug)
def test_each_exercise_has_three_hints_a_statement_and_code(spec):
    from sandbox import scenarios

    # At least three progressive hints (design-a-saga has a fourth, for the events and keys).
    assert len(spec.hints) >= 3
    assert "## What to build" in spec.statement and "## What the grader checks" in spec.statement
    assert spec.starter.strip() and spec.solution.strip() and spec.starter != spec.solution
    scenario = scenarios.get(spec.scenario)
    for function in scenario.functions:
        assert function in spec.statement and function in spec.starter


@pytest.mark.parametrize("spec", read_all(), ids=lambda spec: spec.slug)
def test_each_statement_names_every_invariant_the_grader_checks(spec):
    from sandbox import scenarios
    from sandbox.invariants import describe

    scenario = scenarios.get(spec.scenario)
    # "checked" adds the invariants every world is held to ("settles") where the simulator has it.
    for name in getattr(scenario, "checked", scenario.invariants):
        assert describe(name)["title"].lower() in spec.statement.lower(), name


def test_loading_publishes_every_exercise_and_reports_it(db):
    report = _load()
    exercises = len(_outline_rows())
    assert report.counts["exercises"] == exercises
    assert len(report.added["exercises"]) == exercises
    assert Exercise.objects.published().count() == exercises
    version = Exercise.objects.get(slug="idempotent-consumer").published_version
    assert version.number == 1 and "<h2" in version.statement_html and version.variants


def test_loading_twice_changes_nothing(db):
    _load()
    report = _load()
    assert ExerciseVersion.objects.count() == len(_outline_rows())
    assert not report.added.get("exercises") and not report.changed.get("exercises")


def test_changed_content_makes_a_new_published_version(db, tmp_path):
    root = _copy_one(tmp_path)
    _load(root)
    statement = root / "idempotent-consumer" / "statement.md"
    statement.write_text(statement.read_text() + "\nOne more line.\n")
    report = _load(root)
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    assert report.changed["exercises"] == ["idempotent-consumer"]
    assert (
        exercise.published_version.number == 2
        and "One more line." in exercise.published_version.statement
    )


def test_statement_html_is_sanitised(db, tmp_path):
    root = _copy_one(tmp_path)
    statement = root / "idempotent-consumer" / "statement.md"
    statement.write_text("Hi <script>alert(1)</script> [x](javascript:alert(1))\n")
    _load(root)
    html = Exercise.objects.get().published_version.statement_html
    assert "<script" not in html and 'href="javascript' not in html


def test_an_exercise_whose_files_are_gone_is_unpublished(db, tmp_path):
    root = _copy_one(tmp_path)
    _load(root)
    shutil.rmtree(root / "idempotent-consumer")
    report = _load(root)
    assert report.removed["exercises"] == ["idempotent-consumer"]
    assert not Exercise.objects.published().exists()


def test_solution_and_variants_default_to_the_scenario_registry(tmp_path):
    from sandbox import scenarios

    spec = read_all(_copy_one(tmp_path))[0]
    scenario = scenarios.get(spec.scenario)
    assert spec.solution == scenario.reference_source
    assert set(spec.variants) == set(scenario.variants) - {"reference", "starter"}


@pytest.mark.parametrize(
    "change, reason, line",
    [
        (
            lambda y: y.replace("scenario: idempotent_consumer", "scenario: no_such_thing"),
            "unknown simulator scenario",
            4,
        ),
        (lambda y: y.replace("module: 2", "module: 9"), "module must be one of", 2),
        (lambda y: y + "colour: red\n", "unknown key 'colour'", None),
        (lambda y: y.replace("title:", "title: [unclosed\nx:"), "invalid YAML", None),
        (
            lambda y: y.replace("reveal_after: 4", "reveal_after: zero"),
            "reveal_after must be",
            None,
        ),
        (lambda y: y + "limits: {cpu_seconds: -1}\n", "must be a positive number", None),
        (lambda y: y + "variants: {no_dedup: not_an_invariant}\n", "not an invariant", None),
    ],
)
def test_bad_exercise_yaml_names_the_file_and_reason(tmp_path, change, reason, line):
    root = _copy_one(tmp_path)
    meta = root / "idempotent-consumer" / "exercise.yaml"
    meta.write_text(change(meta.read_text()))
    with pytest.raises(ContentError) as caught:
        read_all(root)
    assert caught.value.path.endswith("exercise.yaml") and reason in caught.value.reason
    if line:
        assert caught.value.line == line


def test_starter_with_a_syntax_error_is_refused_with_its_line(tmp_path):
    root = _copy_one(tmp_path)
    (root / "idempotent-consumer" / "starter.py").write_text("def ok():\n    pass\ndef broken(:\n")
    with pytest.raises(ContentError) as caught:
        read_all(root)
    assert caught.value.path.endswith("starter.py") and caught.value.line == 3


def test_missing_statement_is_refused(tmp_path):
    root = _copy_one(tmp_path)
    (root / "idempotent-consumer" / "statement.md").unlink()
    with pytest.raises(ContentError, match="missing file"):
        read_all(root)


def test_a_variant_file_needs_its_expected_invariant(tmp_path):
    root = _copy_one(tmp_path)
    (root / "idempotent-consumer" / "variants").mkdir()
    (root / "idempotent-consumer" / "variants" / "mine.py").write_text(
        "def on_payment_captured(e, c):\n    pass\n"
    )
    with pytest.raises(ContentError, match="expected invariant"):
        read_all(root)
