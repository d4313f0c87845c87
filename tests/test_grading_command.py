"""`manage.py grade`: grades a file exactly as the site does; exit 0 passed, 1 failed, 2 error/usage."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exercises import grading
from tests.conftest import need


@pytest.fixture(autouse=True)
def jail(settings):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    settings.SANDBOX_RANDOM_SCHEDULES = 30


def _grade(capsys, *args) -> tuple[int, str]:
    try:
        call_command("grade", *args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().out


def test_it_lists_the_exercises(db, capsys):
    code, out = _grade(capsys, "--list")
    assert code == 0 and "idempotent-consumer" in out and "idempotent_consumer" in out


def test_the_reference_passes_with_exit_0(db, capsys):
    code, out = _grade(capsys, "idempotent-consumer", "--reference")
    assert code == 0 and out.startswith("PASSED")


def test_the_starter_fails_with_exit_1_and_json_carries_the_trace(db, capsys):
    code, out = _grade(capsys, "idempotent-consumer", "--starter", "--json")
    data = json.loads(out)
    assert code == 1 and data["status"] == "failed"
    assert data["violations"][0]["name"] == "confirmed_once"
    assert data["counterexample"]["trace"] and isinstance(data["seed"], int)
    assert data["schedules_explored"] > 0 and data["duration_ms"] >= 0 and data["jailed"] is True


def test_it_grades_a_file(db, capsys, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("def on_payment_captured(event, ctx):\n    raise ValueError('nope')\n")
    code, out = _grade(capsys, "idempotent-consumer", str(path))
    assert code == 1 and "FAILED" in out


def test_code_that_does_not_compile_is_an_error_with_exit_2(db, capsys, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def on_payment_captured(event, ctx:\n")
    code, out = _grade(capsys, "idempotent-consumer", str(path))
    assert code == 2 and out.startswith("ERROR")


def test_it_uses_the_published_version_when_content_is_loaded(db, capsys, monkeypatch):
    from courseapp.lib.content import LoadReport
    from exercises.content_loader import CONTENT_DIR, load_exercises

    load_exercises(CONTENT_DIR, LoadReport())
    seen = []
    real = grading.grade_code
    monkeypatch.setattr(
        grading,
        "grade_code",
        lambda version, source, **kw: seen.append(version) or real(version, source),
    )
    _grade(capsys, "idempotent-consumer", "--reference")
    assert seen[0].pk is not None and seen[0].exercise.slug == "idempotent-consumer"


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "name an exercise"),
        (("no-such-exercise", "--reference"), "unknown exercise"),
        (("idempotent-consumer",), "give the PATH"),
        (("idempotent-consumer", "/no/such/file.py"), "cannot read"),
    ],
)
def test_usage_errors_exit_2(db, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("grade", *args)
    assert caught.value.returncode == 2


def test_a_non_utf8_file_is_a_usage_error(db, tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes(b"x = '\xe9'\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("grade", "idempotent-consumer", str(path))
