"""load_content: idempotent, reports what changed, and refuses bad content whole."""

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from lessons.models import Lesson, Question

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _load(*args) -> str:
    out = StringIO()
    call_command("load_content", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_second_load_changes_nothing(content):
    out = _load()
    assert "0 added, 0 changed, 0 removed" in out.splitlines()[0]
    assert all(
        "0 added, 0 changed, 0 removed" in line for line in out.splitlines() if "loaded" in line
    )


def test_json_counts_lessons_questions_and_exercises(content):
    counts = json.loads(_load("--json"))
    assert counts["lessons"] == 13
    assert counts["questions"]["total"] >= 40
    assert set(counts["questions"]["by_type"]) == {
        "single",
        "multiple",
        "truefalse",
        "ordering",
        "spotbug",
    }
    assert counts["exercises"] >= 11


@pytest.fixture
def lessons_copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(ROOT / "lessons" / "content", target)
    return target


@pytest.fixture
def questions_copy(tmp_path):
    target = tmp_path / "questions"
    shutil.copytree(ROOT / "quicktest" / "questions", target)
    return target


def _expect_rejected(lessons_dir, *fragments):
    before = (Lesson.objects.count(), Question.objects.count())
    with pytest.raises(CommandError) as error:
        call_command(
            "load_content", "--lessons-dir", str(lessons_dir), stdout=StringIO(), stderr=StringIO()
        )
    for fragment in fragments:
        assert fragment in str(error.value)
    assert (Lesson.objects.count(), Question.objects.count()) == before  # nothing half-loaded


def test_missing_front_matter_is_rejected_with_file_and_line(lessons_copy):
    path = lessons_copy / "02-idempotency-keys.md"
    path.write_text(path.read_text().split("---\n", 2)[2])
    _expect_rejected(lessons_copy, "02-idempotency-keys.md:1", "missing front matter")


def test_link_to_unknown_lesson_is_rejected(lessons_copy):
    path = lessons_copy / "03-retries-and-backoff.md"
    path.write_text(path.read_text() + "\nSee [nowhere](lesson:no-such-lesson).\n")
    _expect_rejected(lessons_copy, "03-retries-and-backoff.md:", "unknown lesson 'no-such-lesson'")


def test_link_to_unknown_exercise_is_rejected(lessons_copy):
    path = lessons_copy / "03-retries-and-backoff.md"
    path.write_text(path.read_text() + "\nTry [this](exercise:no-such-exercise).\n")
    _expect_rejected(lessons_copy, "unknown exercise")


def test_duplicate_slug_is_rejected(lessons_copy):
    original = (lessons_copy / "02-idempotency-keys.md").read_text()
    (lessons_copy / "11-copy.md").write_text(original.replace("order: 2", "order: 11", 1))
    _expect_rejected(lessons_copy, "11-copy.md", "duplicate slug 'idempotency-keys'")


def test_invalid_yaml_front_matter_names_the_line(lessons_copy):
    path = lessons_copy / "04-transactional-outbox.md"
    text = path.read_text().replace("title:", "title: [unclosed", 1)
    path.write_text(text)
    _expect_rejected(lessons_copy, "04-transactional-outbox.md:", "invalid YAML")


def test_non_utf8_lesson_is_rejected(lessons_copy):
    (lessons_copy / "05-idempotent-consumers.md").write_bytes(b"---\nslug: x\n---\n\xff\xfe bad")
    _expect_rejected(lessons_copy, "05-idempotent-consumers.md", "UTF-8")


def test_removed_lesson_is_reported_and_deleted(lessons_copy, questions_copy, content):
    (lessons_copy / "10-design-procedure.md").unlink()
    for path in lessons_copy.glob("*.md"):
        path.write_text(
            re.sub(
                r"lesson:design-procedure(#[a-z0-9-]+)?", "lesson:operating-sagas", path.read_text()
            )
        )
    for path in questions_copy.glob("*.yaml"):
        path.write_text(
            re.sub(
                r"lesson: design-procedure#[a-z0-9-]+",
                "lesson: operating-sagas#correlation-ids",
                path.read_text(),
            )
        )
    out = StringIO()
    call_command(
        "load_content",
        "--lessons-dir",
        str(lessons_copy),
        "--questions-dir",
        str(questions_copy),
        stdout=out,
        stderr=StringIO(),
    )
    assert "removed: design-procedure" in out.getvalue()
    assert not Lesson.objects.filter(slug="design-procedure").exists()
