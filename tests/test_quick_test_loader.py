"""Loading the question bank: strict validation with file and line, and an idempotent upsert."""

from __future__ import annotations

import textwrap

import pytest

from courseapp.lib.content import ContentError, LoadReport
from lessons.models import Lesson, Question
from quicktest.loader import load_questions

GOOD = {
    "sagas.yaml": """\
        - id: saga-single
          type: single
          topic: sagas
          lesson: sagas-and-choreography#compensations
          prompt: What does a compensation do?
          choices: ["Rolls back", "Undoes the business effect"]
          answer: 1
          explanation: It is a new forward action.
        - id: saga-order
          type: ordering
          topic: sagas
          lesson: sagas-and-choreography#what-a-saga-is
          prompt: Order the steps.
          items: ["Reserve", "Charge", "Ship"]
          explanation: Reserve, charge, ship.
        - id: saga-bug
          type: spotbug
          topic: sagas
          lesson: sagas-and-choreography#compensations
          prompt: Which line?
          code: |
            def release(cmd):
                stock += cmd.qty
          choices: ["Line 1", "Line 2"]
          answer: 1
          explanation: Not idempotent.
        """,
    "outbox.yaml": """\
        - id: outbox-multi
          type: multiple
          topic: outbox
          lesson: transactional-outbox#the-relay
          prompt: Which are true?
          choices: ["A", "B", "C"]
          answer: [0, 2]
          explanation: A and C.
        - id: outbox-tf
          type: truefalse
          topic: outbox
          lesson: transactional-outbox#the-relay
          prompt: The relay may publish twice.
          answer: true
          explanation: At least once.
        """,
}
GOOD = {name: textwrap.dedent(text) for name, text in GOOD.items()}


@pytest.fixture
def lessons(db):
    made = {}
    for order, (slug, anchors) in enumerate(
        [
            ("sagas-and-choreography", ["what-a-saga-is", "compensations"]),
            ("transactional-outbox", ["the-outbox-table", "the-relay"]),
        ],
        start=1,
    ):
        made[slug] = Lesson.objects.create(
            slug=slug,
            title=slug,
            module=0,
            order=order,
            summary="s",
            body="b",
            html="b",
            toc=[{"id": a, "text": a.replace("-", " ")} for a in anchors],
        )
    return made


def write(directory, files):
    directory.mkdir(exist_ok=True)
    for path in directory.glob("*.yaml"):
        path.unlink()
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def load(directory, lessons):
    report = LoadReport()
    load_questions(directory, lessons, report)
    return report


def rejected(tmp_path, lessons, files) -> ContentError:
    with pytest.raises(ContentError) as info:
        load(write(tmp_path / "questions", files), lessons)
    return info.value


class TestLoadingQuestions:
    def test_it_loads_every_type_and_counts_them(self, tmp_path, lessons):
        report = load(write(tmp_path / "q", GOOD), lessons)
        assert sorted(report.added["questions"]) == [
            "outbox-multi",
            "outbox-tf",
            "saga-bug",
            "saga-order",
            "saga-single",
        ]
        assert report.counts["questions"] == {
            "total": 5,
            "by_type": {"single": 1, "ordering": 1, "spotbug": 1, "multiple": 1, "truefalse": 1},
            "by_topic": {"sagas": 3, "outbox": 2},
        }
        bug = Question.objects.get(key="saga-bug")
        assert bug.lesson == lessons["sagas-and-choreography"] and bug.anchor == "compensations"
        assert bug.code == "def release(cmd):\n    stock += cmd.qty" and bug.answer == 1
        assert bug.lesson_url() == "/lessons/sagas-and-choreography/#compensations"
        assert Question.objects.get(key="saga-order").items == ["Reserve", "Charge", "Ship"]
        assert Question.objects.get(key="outbox-tf").answer is True

    def test_loading_twice_changes_nothing(self, tmp_path, lessons):
        directory = write(tmp_path / "q", GOOD)
        load(directory, lessons)
        report = load(directory, lessons)
        assert report.added == {} and report.changed == {} and report.removed == {}

    def test_it_notes_changed_and_deactivates_removed_questions(self, tmp_path, lessons):
        directory = write(tmp_path / "q", GOOD)
        load(directory, lessons)
        write(
            directory,
            {"sagas.yaml": GOOD["sagas.yaml"].replace("Reserve, charge, ship.", "Reserve first.")},
        )
        report = load(directory, lessons)
        assert report.changed == {"questions": ["saga-order"]}
        assert sorted(report.removed["questions"]) == ["outbox-multi", "outbox-tf"]
        assert not Question.objects.get(key="outbox-tf").active
        assert report.counts["questions"]["total"] == 3
        report = load(write(directory, GOOD), lessons)
        assert Question.objects.get(key="outbox-tf").active and report.changed["questions"]

    def test_an_empty_file_is_an_empty_topic(self, tmp_path, lessons):
        report = load(write(tmp_path / "q", {"design.yaml": "# nothing yet\n"}), lessons)
        assert report.counts["questions"]["total"] == 0


class TestRejectingBadQuestionFiles:
    def test_a_duplicate_id_across_files_names_both_places(self, tmp_path, lessons):
        files = dict(
            GOOD, **{"outbox.yaml": GOOD["outbox.yaml"].replace("id: outbox-tf", "id: saga-bug")}
        )
        error = rejected(tmp_path, lessons, files)
        assert error.path.endswith("sagas.yaml") and error.line == 16
        assert "duplicate question id 'saga-bug'" in str(error) and "outbox.yaml:9" in str(error)
        assert str(error).startswith(f"{tmp_path}/questions/sagas.yaml:16: ")
        assert not Question.objects.exists()

    def test_an_unknown_lesson(self, tmp_path, lessons):
        files = {
            "sagas.yaml": GOOD["sagas.yaml"].replace(
                "lesson: sagas-and-choreography#what-a-saga-is",
                "lesson: sagas-everywhere#what-a-saga-is",
            )
        }
        error = rejected(tmp_path, lessons, files)
        assert error.path.endswith("sagas.yaml") and error.line == 9
        assert "unknown lesson 'sagas-everywhere'" in error.reason and "saga-order" in error.reason

    def test_an_unknown_anchor(self, tmp_path, lessons):
        files = {"sagas.yaml": GOOD["sagas.yaml"].replace("#what-a-saga-is", "#what-is-a-saga")}
        error = rejected(tmp_path, lessons, files)
        assert error.line == 9 and "has no section '#what-is-a-saga'" in error.reason
        assert "compensations" in error.reason

    def test_a_lesson_without_an_anchor(self, tmp_path, lessons):
        files = {
            "sagas.yaml": GOOD["sagas.yaml"].replace(
                "sagas-and-choreography#what-a-saga-is", "sagas-and-choreography"
            )
        }
        assert rejected(tmp_path, lessons, files).line == 9

    @pytest.mark.parametrize(
        "old,new,line,reason",
        [
            (
                "answer: 1\n  explanation: It is",
                "answer: 2\n  explanation: It is",
                1,
                "index of a choice",
            ),
            (
                "answer: 1\n  explanation: Not",
                "answer: -1\n  explanation: Not",
                16,
                "index of a choice",
            ),
            (
                "answer: 1\n  explanation: Not",
                "answer: true\n  explanation: Not",
                16,
                "index of a choice",
            ),
            (
                "answer: 1\n  explanation: Not",
                "answer: [1]\n  explanation: Not",
                16,
                "index of a choice",
            ),
        ],
    )
    def test_a_bad_answer_index(self, tmp_path, lessons, old, new, line, reason):
        text = textwrap.dedent(GOOD["sagas.yaml"])
        assert old in text
        error = rejected(tmp_path, lessons, {"sagas.yaml": text.replace(old, new)})
        assert error.line == line and reason in error.reason

    @pytest.mark.parametrize("answer", ["[0, 3]", "[]", "1", "[0, 0]"])
    def test_a_bad_multiple_select_answer(self, tmp_path, lessons, answer):
        files = {"outbox.yaml": GOOD["outbox.yaml"].replace("answer: [0, 2]", f"answer: {answer}")}
        error = rejected(tmp_path, lessons, files)
        assert (
            error.path.endswith("outbox.yaml")
            and error.line == 1
            and "outbox-multi" in error.reason
        )

    def test_a_topic_that_does_not_match_the_file(self, tmp_path, lessons):
        files = {
            "sagas.yaml": GOOD["sagas.yaml"].replace(
                "topic: sagas\n  lesson: sagas-and-choreography#what",
                "topic: outbox\n  lesson: sagas-and-choreography#what",
            )
        }
        error = rejected(tmp_path, lessons, files)
        assert error.line == 9 and "must have topic 'sagas'" in error.reason

    def test_an_unknown_topic(self, tmp_path, lessons):
        files = {"blockchain.yaml": GOOD["sagas.yaml"].replace("topic: sagas", "topic: blockchain")}
        error = rejected(tmp_path, lessons, files)
        assert (
            error.path.endswith("blockchain.yaml")
            and error.line == 1
            and "unknown topic" in error.reason
        )

    @pytest.mark.parametrize(
        "old,new,reason",
        [
            ("type: ordering", "type: essay", "'type' must be one of"),
            ('  items: ["Reserve", "Charge", "Ship"]\n', "", "needs items"),
            ("  explanation: Reserve, charge, ship.\n", "", "'explanation' must be non-empty"),
            (
                "prompt: Order the steps.",
                "prompt: Order the steps.\n  answer: 0",
                "must not have answer",
            ),
            (
                "prompt: Order the steps.",
                "prompt: Order the steps.\n  hint: think",
                "unknown field(s): hint",
            ),
            ('items: ["Reserve", "Charge", "Ship"]', 'items: ["Reserve"]', "at least two"),
            (
                'items: ["Reserve", "Charge", "Ship"]',
                'items: ["Reserve", "Reserve"]',
                "repeated entry",
            ),
            ("id: saga-order", "id: Saga Order", "lower-case slug"),
        ],
    )
    def test_other_malformed_questions(self, tmp_path, lessons, old, new, reason):
        text = textwrap.dedent(GOOD["sagas.yaml"])
        assert old in text
        error = rejected(tmp_path, lessons, {"sagas.yaml": text.replace(old, new)})
        assert error.line == 9 and reason in error.reason

    def test_a_spotbug_question_needs_code(self, tmp_path, lessons):
        text = textwrap.dedent(GOOD["sagas.yaml"])
        text = text.replace("  code: |\n    def release(cmd):\n        stock += cmd.qty\n", "")
        error = rejected(tmp_path, lessons, {"sagas.yaml": text})
        assert error.line == 16 and "needs code" in error.reason

    def test_invalid_yaml_and_a_file_that_is_not_a_list(self, tmp_path, lessons):
        error = rejected(tmp_path, lessons, {"sagas.yaml": "- id: x\n  type: [unclosed\n"})
        assert error.path.endswith("sagas.yaml") and error.line and "invalid YAML" in error.reason
        error = rejected(tmp_path, lessons, {"sagas.yaml": "id: x\n"})
        assert error.line == 1 and "must be a list" in error.reason

    def test_a_bad_file_writes_nothing(self, tmp_path, lessons):
        files = dict(
            GOOD, **{"sagas.yaml": GOOD["sagas.yaml"].replace("answer: 1", "answer: 9", 1)}
        )
        rejected(tmp_path, lessons, files)
        assert not Question.objects.exists()
