"""Load the Quick Test question bank from quicktest/questions/*.yaml.

Every file holds the questions of one topic (the file's stem). The whole bank
is validated before anything is written, so a bad file changes nothing; then
questions are upserted by id, and questions gone from the files are
deactivated (never deleted: past attempts still point at them).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from courseapp.lib.content import ContentError, LoadReport, read_yaml
from courseapp.lib.modules import TOPICS
from lessons.models import Question

CONTENT_DIR = Path(__file__).resolve().parent / "questions"
KIND = "questions"
TYPES = {value for value, _ in Question.TYPES}
FIELDS = {
    "id",
    "type",
    "topic",
    "lesson",
    "prompt",
    "code",
    "choices",
    "answer",
    "items",
    "explanation",
}
# The fields each type needs besides the common ones, and the ones it must not have.
REQUIRED = {
    Question.SINGLE: {"choices", "answer"},
    Question.MULTIPLE: {"choices", "answer"},
    Question.TRUEFALSE: {"answer"},
    Question.ORDERING: {"items"},
    Question.SPOTBUG: {"code", "choices", "answer"},
}
FORBIDDEN = {
    Question.SINGLE: {"items"},
    Question.MULTIPLE: {"items"},
    Question.TRUEFALSE: {"choices", "items"},
    Question.ORDERING: {"choices", "answer"},
    Question.SPOTBUG: {"items"},
}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
COMPARED = [
    "type",
    "topic",
    "lesson_id",
    "anchor",
    "prompt",
    "code",
    "choices",
    "items",
    "answer",
    "explanation",
    "active",
]


def load_questions(directory: Path, lessons: dict, report: LoadReport) -> None:
    directory = Path(directory)
    if not directory.is_dir():
        raise ContentError(directory, None, "question directory not found")
    parsed: dict[str, dict] = {}
    where: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        for line, raw in _entries(path):
            row = validate_question(path, line, raw, lessons)
            if row["key"] in parsed:
                raise ContentError(
                    path,
                    line,
                    f"duplicate question id '{row['key']}' (first defined at {where[row['key']]})",
                )
            parsed[row["key"]] = row
            where[row["key"]] = f"{path.name}:{line}"
    _save(parsed, report)
    active = Question.objects.active()
    report.counts[KIND] = {
        "total": active.count(),
        "by_type": dict(Counter(active.values_list("type", flat=True))),
        "by_topic": dict(Counter(active.values_list("topic", flat=True))),
    }


def _entries(path: Path) -> list[tuple[int, object]]:
    """The file's questions, each with the line where it starts."""
    data = read_yaml(path)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ContentError(path, 1, "a question file must be a list of questions ('- id: ...')")
    node = yaml.compose(path.read_text(encoding="utf-8"))
    assert node is not None  # the file parsed to a non-empty list above
    return [(item.start_mark.line + 1, raw) for item, raw in zip(node.value, data)]


def validate_question(path: Path, line: int, raw, lessons: dict) -> dict:
    """One question checked as the loader checks it; the instructor area uses it too."""

    def fail(reason: str):
        label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        raise ContentError(path, line, f"question '{label}': {reason}" if label else reason)

    if not isinstance(raw, dict):
        fail("each question must be a mapping of fields")
    unknown = set(raw) - FIELDS
    if unknown:
        fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    key = raw.get("id")
    if not isinstance(key, str) or not _ID.match(key):
        fail("'id' must be a lower-case slug (letters, digits, dashes)")
    kind = raw.get("type")
    if kind not in TYPES:
        fail(f"'type' must be one of {', '.join(sorted(TYPES))}, not {kind!r}")
    topic = raw.get("topic")
    if topic not in TOPICS:
        fail(f"unknown topic {topic!r}; topics are {', '.join(TOPICS)}")
    if topic != path.stem:
        fail(
            f"topic {topic!r} does not match the file: questions in {path.name} must have topic '{path.stem}'"
        )
    for name in ("prompt", "explanation"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            fail(f"'{name}' must be non-empty text")
    missing = sorted(REQUIRED[kind] - set(raw))
    if missing:
        fail(f"a {kind} question needs {', '.join(missing)}")
    extra = sorted(FORBIDDEN[kind] & set(raw))
    if extra:
        fail(f"a {kind} question must not have {', '.join(extra)}")
    lesson, anchor = _lesson(raw.get("lesson"), lessons, fail)
    if "code" in raw and (not isinstance(raw["code"], str) or not raw["code"].strip()):
        fail("'code' must be non-empty text")
    choices = _texts(raw["choices"], "choices", fail) if "choices" in raw else []
    items = _texts(raw["items"], "items", fail) if "items" in raw else []
    answer = _answer(kind, raw.get("answer"), len(choices), fail)
    return {
        "key": key,
        "type": kind,
        "topic": topic,
        "lesson_id": lesson.pk,
        "anchor": anchor,
        "prompt": raw["prompt"].strip(),
        "code": (raw.get("code") or "").rstrip("\n"),
        "choices": choices,
        "items": items,
        "answer": answer,
        "explanation": raw["explanation"].strip(),
        "active": True,
    }


def _lesson(value, lessons: dict, fail):
    if not isinstance(value, str) or value.count("#") != 1:
        fail("'lesson' must be 'lesson-slug#section-anchor'")
    slug, anchor = value.split("#")
    if slug not in lessons:
        fail(f"unknown lesson '{slug}'")
    lesson = lessons[slug]
    anchors = [entry.get("id") for entry in (lesson.toc or []) if isinstance(entry, dict)]
    if anchor not in anchors:
        fail(
            f"lesson '{slug}' has no section '#{anchor}'; its sections are {', '.join(map(str, anchors))}"
        )
    return lesson, anchor


def _texts(value, name: str, fail) -> list[str]:
    if not isinstance(value, list) or len(value) < 2:
        fail(f"'{name}' must be a list of at least two entries")
    if not all(isinstance(entry, str) and entry.strip() for entry in value):
        fail(f"every entry of '{name}' must be non-empty text")
    if len(set(value)) != len(value):
        fail(f"'{name}' has a repeated entry")
    return [entry.strip() for entry in value]


def _answer(kind: str, value, n_choices: int, fail):
    def index(entry) -> bool:
        return isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < n_choices

    if kind in (Question.SINGLE, Question.SPOTBUG):
        if not index(value):
            fail(f"'answer' must be the index of a choice (0 to {n_choices - 1}), not {value!r}")
        return value
    if kind == Question.MULTIPLE:
        if not isinstance(value, list) or not value or not all(index(entry) for entry in value):
            fail(f"'answer' must be a list of choice indices (0 to {n_choices - 1}), not {value!r}")
        if len(set(value)) != len(value):
            fail("'answer' lists a choice twice")
        return sorted(value)
    if kind == Question.TRUEFALSE:
        if not isinstance(value, bool):
            fail(f"'answer' must be true or false, not {value!r}")
        return value
    return None  # ordering: the items are listed in the correct order


def _save(parsed: dict[str, dict], report: LoadReport) -> None:
    existing = {question.key: question for question in Question.objects.all()}
    for key, row in parsed.items():
        question = existing.get(key)
        if question is None:
            Question.objects.create(**row)
            report.note(KIND, "added", key)
            continue
        if any(getattr(question, name) != row[name] for name in COMPARED):
            for name, value in row.items():
                setattr(question, name, value)
            question.save()
            report.note(KIND, "changed", key)
    for key, question in existing.items():
        if key not in parsed and question.active:
            question.active = False
            question.save(update_fields=["active"])
            report.note(KIND, "removed", key)
