"""An exercise authored in the site goes back to files that the loader reads as the same exercise."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from courseapp.lib.content import LoadReport
from exercises.content_loader import ExerciseSpec, load_exercises, read_exercise
from exercises.models import Exercise
from sandbox import scenarios
from teach import authoring

SCENARIO = scenarios.get("idempotent_consumer")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def authored(bob):
    spec = ExerciseSpec(
        slug="confirm-once",
        title="Confirm once: “quotes” & ünïcode",
        module=2,
        order=7,
        summary="A summary: with a colon",
        scenario="idempotent_consumer",
        statement="## Task\n\nWrite it.\n\n```python\nx = 1\n```\n",
        starter=SCENARIO.starter_source,
        solution=SCENARIO.reference_source,
        hints=["First: a hint", "Second\nover two lines"],
        reveal_after=3,
        random_schedules=40,
        limits={"wall_seconds": 12.5, "memory_mb": 300},
        variants={
            "no_dedup": {"source": SCENARIO.variants["no_dedup"][0], "expected": "confirmed_once"},
            "late_dedup": {
                "source": SCENARIO.variants["dedup_after_effect"][0],
                "expected": "confirmed_once",
            },
        },
    )
    exercise, version, _ = authoring.save_draft(spec, bob)
    return exercise, version


def test_export_then_import_gives_the_same_exercise(authored, tmp_path):
    exercise, version = authored
    call_command(
        "export_exercise", "confirm-once", str(tmp_path), "--number", "1", stdout=io.StringIO()
    )
    assert read_exercise(tmp_path / "confirm-once").content_hash() == version.content_hash

    original = authoring.spec_for(exercise, version)
    exercise.delete()
    load_exercises(tmp_path, LoadReport())
    imported = Exercise.objects.get(slug="confirm-once")
    again = imported.latest_version()
    assert again.content_hash == version.content_hash
    assert authoring.spec_for(imported, again) == original


def test_importing_the_export_over_the_original_changes_nothing(authored, tmp_path):
    exercise, version = authored
    call_command(
        "export_exercise", "confirm-once", str(tmp_path), "--number", "1", stdout=io.StringIO()
    )
    report = LoadReport()
    load_exercises(tmp_path, report)
    assert exercise.versions.count() == 1
    assert Exercise.objects.get(pk=exercise.pk).published_version == version


def test_the_export_writes_the_content_layout(authored, tmp_path):
    call_command(
        "export_exercise",
        "confirm-once",
        "--to",
        str(tmp_path),
        "--number",
        "1",
        stdout=io.StringIO(),
    )
    written = sorted(
        str(p.relative_to(tmp_path / "confirm-once"))
        for p in (tmp_path / "confirm-once").rglob("*.py")
    )
    assert written == [
        "solution.py",
        "starter.py",
        "variants/late_dedup.py",
        "variants/no_dedup.py",
    ]
    assert (tmp_path / "confirm-once" / "exercise.yaml").exists()
    assert (
        tmp_path / "confirm-once" / "statement.md"
    ).read_text() == "## Task\n\nWrite it.\n\n```python\nx = 1\n```\n"


def test_a_forced_export_drops_variant_files_that_no_longer_exist(authored, tmp_path, bob):
    exercise, version = authored
    call_command(
        "export_exercise", "confirm-once", str(tmp_path), "--number", "1", stdout=io.StringIO()
    )
    spec = authoring.spec_for(exercise, version)
    del spec.variants["late_dedup"]
    authoring.save_draft(spec, bob, exercise)
    call_command(
        "export_exercise",
        "confirm-once",
        str(tmp_path),
        "--number",
        "2",
        "--force",
        stdout=io.StringIO(),
    )
    assert not (tmp_path / "confirm-once" / "variants" / "late_dedup.py").exists()
    assert (
        read_exercise(tmp_path / "confirm-once").content_hash()
        == exercise.latest_version().content_hash
    )


def test_an_unpublished_exercise_needs_a_version_number(authored, tmp_path):
    with pytest.raises(CommandError, match="pass --number"):
        call_command("export_exercise", "confirm-once", str(tmp_path))


def test_an_unknown_version_is_an_error(authored, tmp_path):
    with pytest.raises(CommandError, match="has no version 9"):
        call_command("export_exercise", "confirm-once", str(tmp_path), "--number", "9")


def test_the_instructor_area_offers_the_same_files_as_a_zip(authored, client, bob, tmp_path):
    exercise, version = authored
    authoring.make_instructor(bob)
    client.force_login(bob)
    response = client.get("/teach/exercises/confirm-once/export/?version=1")
    assert response["Content-Disposition"] == 'attachment; filename="confirm-once-v1.zip"'
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path)
    assert read_exercise(tmp_path / "confirm-once").content_hash() == version.content_hash


@pytest.fixture
def loaded(db):
    from exercises.content_loader import CONTENT_DIR

    load_exercises(CONTENT_DIR, LoadReport())


def test_it_exports_a_published_exercise_from_the_files_back_to_the_same_content(loaded, tmp_path):
    call_command(
        "export_exercise", "idempotent-consumer", "--to", str(tmp_path), stdout=io.StringIO()
    )
    version = Exercise.objects.get(slug="idempotent-consumer").published_version
    assert read_exercise(tmp_path / "idempotent-consumer").content_hash() == version.content_hash
    assert (tmp_path / "idempotent-consumer" / "variants" / "no_dedup.py").exists()


def test_it_refuses_to_overwrite_without_force(loaded, tmp_path):
    call_command("export_exercise", "idempotent-consumer", str(tmp_path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="--force"):
        call_command("export_exercise", "idempotent-consumer", str(tmp_path), stdout=io.StringIO())
    call_command(
        "export_exercise", "idempotent-consumer", str(tmp_path), "--force", stdout=io.StringIO()
    )


def test_a_dry_run_writes_nothing(loaded, tmp_path):
    call_command(
        "export_exercise", "idempotent-consumer", str(tmp_path), "--dry-run", stdout=io.StringIO()
    )
    assert not (tmp_path / "idempotent-consumer").exists()


def test_an_unknown_exercise_is_an_error(loaded, tmp_path):
    with pytest.raises(CommandError, match="no published exercise"):
        call_command("export_exercise", "nope", str(tmp_path))


def test_an_export_keeps_the_exercise_card_difficulty_and_minutes(loaded, tmp_path):
    exercise = Exercise.objects.get(slug="circuit-breaker")
    assert exercise.difficulty and exercise.minutes  # the content file sets both
    call_command("export_exercise", "circuit-breaker", "--to", str(tmp_path), stdout=io.StringIO())
    spec = read_exercise(tmp_path / "circuit-breaker")
    assert (spec.difficulty, spec.minutes) == (exercise.difficulty, exercise.minutes)
