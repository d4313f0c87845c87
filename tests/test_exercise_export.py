"""export_exercise writes files that load back to the very same version."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exercises.content_loader import CONTENT_DIR, load_exercises, read_exercise
from exercises.models import Exercise
from lessons.content import LoadReport


@pytest.fixture
def loaded(db):
    load_exercises(CONTENT_DIR, LoadReport())


def test_it_exports_files_that_load_back_to_the_same_content(loaded, tmp_path):
    call_command("export_exercise", "idempotent-consumer", "--to", str(tmp_path), verbosity=0)
    spec = read_exercise(tmp_path / "idempotent-consumer")
    version = Exercise.objects.get(slug="idempotent-consumer").published_version
    assert spec.content_hash() == version.content_hash
    assert (tmp_path / "idempotent-consumer" / "variants" / "no_dedup.py").exists()


def test_it_refuses_to_overwrite_without_force(loaded, tmp_path):
    call_command("export_exercise", "idempotent-consumer", "--to", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match="--force"):
        call_command("export_exercise", "idempotent-consumer", "--to", str(tmp_path), verbosity=0)


def test_a_dry_run_writes_nothing(loaded, tmp_path):
    call_command("export_exercise", "idempotent-consumer", "--to", str(tmp_path), "--dry-run", verbosity=0)
    assert not (tmp_path / "idempotent-consumer").exists()


def test_an_unknown_exercise_is_an_error(loaded, tmp_path):
    with pytest.raises(CommandError, match="no published exercise"):
        call_command("export_exercise", "nope", "--to", str(tmp_path))
