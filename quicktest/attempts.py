"""The Quick Test: drawing a test, reading and scoring answers, whose attempt is whose.

Scoring, per question type (every question is worth 1 point):
- single choice, true/false, spot-the-bug: 1 for the right choice, else 0.
- multiple select: all-or-nothing. 1 only when the selection is exactly the
  set of right options; missing a right option or adding a wrong one gives 0.
- ordering: all-or-nothing. 1 only when the whole order is right, else 0.

Grading happens here, on the server only: pages never carry the answers or
the explanation of a question before the learner has answered it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from courseapp.lib.sql import quote
from lessons.models import Lesson, Question, QuizAnswer, QuizAttempt, question_bank

QUESTIONS_PER_TEST = 10
MAX_PER_TOPIC = 2
SESSION_KEY = "quiz_attempt_ids"
SESSION_LIMIT = 50

SCORING_RULES = {
    Question.SINGLE: "1 point for the right choice.",
    Question.TRUEFALSE: "1 point for the right choice.",
    Question.SPOTBUG: "1 point for the line that holds the bug.",
    Question.MULTIPLE: "All or nothing: 1 point only when you select exactly the right options. "
    "Missing a right option or ticking a wrong one scores 0.",
    Question.ORDERING: "All or nothing: 1 point only when the whole order is right.",
}


ALREADY_ANSWERED = "You already answered this question; your first answer stands."


class QuizError(Exception):
    """A request the Quick Test refuses: an HTTP status and a readable reason."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


class AnswerError(QuizError):
    """The answer sent for the current question does not fit it: the question is
    shown again with the error beside it, the valid parts of the answer kept and
    the form fields in `fields` marked invalid."""

    def __init__(self, message: str, fields=()):
        super().__init__(400, message)
        self.fields = frozenset(fields)


class AlreadyAnswered(QuizError):
    """An answer to a question that has one (a replayed or double post)."""

    def __init__(self, question_key: str):
        super().__init__(409, ALREADY_ANSWERED)
        self.question_key = question_key


# Drawing --------------------------------------------------------------------------------------


def draw(
    questions, rng: random.Random, count: int = QUESTIONS_PER_TEST, per_topic: int = MAX_PER_TOPIC
) -> list[Question]:
    """Round-robin over the topics in a shuffled order, at most `per_topic` from
    each, preferring in each topic the question type drawn least so far."""
    by_topic = defaultdict(list)
    for question in questions:
        by_topic[question.topic].append(question)
    topics = sorted(by_topic)
    rng.shuffle(topics)
    for pool in by_topic.values():
        rng.shuffle(pool)
    drawn: list[Question] = []
    types: Counter[str] = Counter()
    for _ in range(per_topic):
        for topic in topics:
            pool = by_topic[topic]
            if len(drawn) == count or not pool:
                continue
            pick = min(pool, key=lambda question: types[question.type])
            pool.remove(pick)
            drawn.append(pick)
            types[pick.type] += 1
    return drawn


def shuffled_layout(size: int, rng: random.Random) -> list[int]:
    """A display order for ordering items that is never already the answer."""
    layout = list(range(size))
    while size > 1 and layout == sorted(layout):
        rng.shuffle(layout)
    return layout


def start_attempt(request, rng: random.Random | None = None) -> QuizAttempt:
    rng = rng or random.SystemRandom()
    # The bank is in memory and in the order Question.objects.active() reads (topic, key).
    questions = draw([question for question in question_bank().values() if question.active], rng)
    if not questions:
        raise QuizError(503, "The Quick Test has no questions yet. Please come back later.")
    if not request.session.session_key:
        request.session.save()
    attempt = QuizAttempt.objects.create(
        user=request.user if request.user.is_authenticated else None,
        session_key=request.session.session_key or "",
        question_keys=[question.key for question in questions],
        layouts={
            question.key: shuffled_layout(len(question.items), rng)
            for question in questions
            if question.type == Question.ORDERING
        },
    )
    remember(request, attempt)
    return attempt


# Whose attempt is it ----------------------------------------------------------------------------


def remember(request, attempt: QuizAttempt) -> None:
    ids = [attempt.pk] + [pk for pk in request.session.get(SESSION_KEY, []) if pk != attempt.pk]
    request.session[SESSION_KEY] = ids[:SESSION_LIMIT]


def session_attempt_ids(session) -> list[int]:
    return [pk for pk in session.get(SESSION_KEY, []) if isinstance(pk, int)]


def attempts_for(request) -> list[QuizAttempt]:
    """The learner's attempts, newest first, with their answers and questions preloaded so
    score() and topic_scores() cost no further queries: a signed-in learner's own attempts, or
    an anonymous visitor's attempts from this session."""
    meta = QuizAttempt._meta
    sql = f"SELECT * FROM {quote(meta.db_table)} WHERE "
    if request.user.is_authenticated:
        sql += f"{quote('user_id')} = %s"
        params = [request.user.pk]
    else:
        params = session_attempt_ids(request.session)
        if not params:
            return []
        marks = ", ".join(["%s"] * len(params))
        sql += f"{quote('user_id')} IS NULL AND {quote(meta.pk.column or 'id')} IN ({marks})"
    attempts = list(QuizAttempt.objects.raw(f"{sql} ORDER BY {quote('created_at')} DESC", params))
    _preload_answers(attempts)
    bank = question_bank()
    for attempt in attempts:
        attempt._questions = [bank[key] for key in attempt.question_keys if key in bank]
    return attempts


def resumable_attempt(request) -> QuizAttempt | None:
    """The learner's newest test that is neither finished nor expired, with ``answered``, its
    number of answers (for the start page's "Continue your test")."""
    if request.user.is_authenticated:
        attempts = QuizAttempt.objects.filter(user=request.user)
    else:
        attempts = QuizAttempt.objects.filter(
            user=None, pk__in=session_attempt_ids(request.session)
        )
    return (
        attempts.filter(finished_at=None, created_at__gte=timezone.now() - QuizAttempt.LIFETIME)
        .annotate(answered=Count("answers"))
        .order_by("-created_at")
        .first()
    )


def get_attempt(request, attempt_id: int, *, lock: bool = False) -> QuizAttempt:
    """The attempt, if it belongs to this learner; anyone else's is a 404. ``lock`` takes its row
    lock (inside the caller's transaction) so one answer at a time is checked and saved. Its
    answers come with it (answers_by_key() reads no more)."""
    attempt = _read_attempt(attempt_id, lock)
    if attempt is None or not owns(request, attempt):
        raise QuizError(
            404, "There is no such test in your session. Start a new one from the Quick Test page."
        )
    _preload_answers([attempt])
    return attempt


# Every answer and every question shown reads one attempt and its answers by primary key. Built
# through the ORM these two small queries cost more than the rest of the request; written out,
# they still give model instances (raw() converts each column as the ORM does).


def _read_attempt(attempt_id: int, lock: bool) -> QuizAttempt | None:
    meta = QuizAttempt._meta
    sql = f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column or 'id')} = %s"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return next(iter(QuizAttempt.objects.raw(sql, [attempt_id])), None)


def _preload_answers(attempts: list[QuizAttempt]) -> None:
    """Fill each attempt's answers as prefetch_related("answers") would, in one written-out
    query (none for no attempts)."""
    if not attempts:
        return
    by_id = {attempt.pk: attempt for attempt in attempts}
    meta = QuizAnswer._meta
    marks = ", ".join(["%s"] * len(by_id))
    sql = (
        f"SELECT * FROM {quote(meta.db_table)}"
        f" WHERE {quote(meta.get_field('attempt').column)} IN ({marks})"
    )
    rows: dict[int, list[QuizAnswer]] = {pk: [] for pk in by_id}
    for answer in QuizAnswer.objects.raw(sql, list(by_id)):
        answer.attempt = by_id[answer.attempt_id]  # the same object, no query
        rows[answer.attempt_id].append(answer)
    for attempt in attempts:
        # What prefetch_related_objects() leaves behind: the related manager's all() then serves
        # these rows, and count(), exists() and iteration read no more.
        answers = attempt.answers.all()
        answers._result_cache = rows[attempt.pk]
        answers._prefetch_done = True  # type: ignore[attr-defined]
        attempt._prefetched_objects_cache = {"answers": answers}  # type: ignore[attr-defined]


def owns(request, attempt: QuizAttempt) -> bool:
    if attempt.user_id is not None:
        return request.user.is_authenticated and attempt.user_id == request.user.pk
    return attempt.pk in session_attempt_ids(request.session)


def attach_session_attempts(session, user) -> int:
    """Give the user the anonymous attempts this session started; attempts that
    already have a user are left alone, so this runs safely at every log-in."""
    ids = session_attempt_ids(session)
    if not ids:
        return 0
    return QuizAttempt.objects.filter(pk__in=ids, user=None).update(user=user)


# Answers ----------------------------------------------------------------------------------------


def submit(attempt: QuizAttempt, question_key, data) -> QuizAnswer:
    """Grade and save one answer to an attempt read with ``get_attempt(..., lock=True)`` in the
    caller's transaction. Anything but the next question of a live attempt is refused with a
    QuizError and changes nothing."""
    with transaction.atomic():
        if attempt.is_finished:
            raise QuizError(
                409,
                "This test is finished, so its answers can no longer change. "
                "See your result or start a new test.",
            )
        if attempt.is_expired():
            raise QuizError(
                410, "This test expired: a test stays open for six hours. Start a new one."
            )
        if not isinstance(question_key, str) or question_key not in attempt.question_keys:
            raise QuizError(400, "That question is not part of this test.")
        if question_key in attempt.answers_by_key():
            raise AlreadyAnswered(question_key)
        question = attempt.current_question()
        # Not None: the key is one of the test's and still unanswered.
        assert question is not None
        if question.key != question_key:
            raise QuizError(
                409,
                f"Please answer question {attempt.position(question)} first: "
                "the questions come one at a time, in order.",
            )
        given = read_answer(question, attempt.layouts.get(question.key), data)
        try:
            with transaction.atomic():
                answer = QuizAnswer.objects.create(
                    attempt=attempt, question=question, given=given, score=score(question, given)
                )
        except IntegrityError:
            raise AlreadyAnswered(question_key) from None
        # What was read under the lock plus this answer is the state now: no need to read it again.
        attempt.answers_by_key()[question.key] = answer
        if attempt.current_question() is None:
            attempt.finished_at = timezone.now()
            attempt.save(update_fields=["finished_at"])
    return answer


def read_answer(question: Question, layout: list[int] | None, data) -> object:
    """The learner's answer from the form, checked against the question's shape.
    Returns what is stored in QuizAnswer.given (indices into the question's own
    choices/items, never into the shuffled display order). Raises AnswerError."""
    if question.type in (Question.SINGLE, Question.SPOTBUG):
        values = data.getlist("choice")
        if len(values) != 1:
            raise AnswerError("Choose one option.", ["choice"])
        return _index(values[0], len(question.choices), name="choice")
    if question.type == Question.TRUEFALSE:
        value = data.get("choice")
        if value not in ("true", "false"):
            raise AnswerError("Choose true or false.", ["choice"])
        return value == "true"
    if question.type == Question.MULTIPLE:
        values = data.getlist("choice")
        if not values:
            raise AnswerError("Choose at least one option.", ["choice"])
        chosen = sorted({_index(value, len(question.choices), name="choice") for value in values})
        if len(chosen) != len(values):
            raise AnswerError("An option was sent twice.", ["choice"])
        return chosen
    return _read_order(question, layout, data)


def _read_order(question: Question, layout, data) -> list[int]:
    size = len(question.items)
    layout = layout if layout and sorted(layout) == list(range(size)) else list(range(size))
    names = [f"position-{shown}" for shown in range(size)]
    missing = [name for name in names if not str(data.get(name) or "").strip()]
    extra = [name for name in data if name.startswith("position-") and name not in names]
    if missing or extra or any(len(data.getlist(name)) > 1 for name in names):
        raise AnswerError(
            f"Give a position to each of the {size} items, and only to them.", missing
        )
    positions = [_index(data.get(name), size, first=1, name=name) for name in names]
    clashes = {position for position in positions if positions.count(position) > 1}
    if clashes:
        first = min(clashes)
        raise AnswerError(
            f"Two items were given position {first + 1}; each position is used once.",
            [name for name, position in zip(names, positions, strict=True) if position in clashes],
        )
    order = [0] * size
    for shown, position in enumerate(positions):
        order[position] = layout[shown]
    return order


def _index(value, size: int, first: int = 0, name: str = "choice") -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise AnswerError("That answer is not one of the options.", [name]) from None
    if not first <= number < size + first:
        raise AnswerError("That answer is not one of the options.", [name])
    return number - first


def kept_answer(question: Question, data) -> dict:
    """What a refused form said that still fits the question, to show it again:
    {"choices": {index, ...}} or {"truefalse": "true"/"false"} or
    {"positions": {shown: position}}. Values that do not fit are left out."""
    if question.type == Question.ORDERING:
        size = len(question.items)
        positions = {}
        for shown in range(size):
            value = str(data.get(f"position-{shown}") or "").strip()
            if value.isdigit() and 1 <= int(value) <= size:
                positions[shown] = int(value)
        return {"positions": positions}
    if question.type == Question.TRUEFALSE:
        value = data.get("choice")
        return {"truefalse": value if value in ("true", "false") else None}
    size = len(question.choices)
    values = data.getlist("choice")
    if question.type != Question.MULTIPLE and len(values) != 1:
        values = []
    return {
        "choices": {int(value) for value in values if value.isdigit() and 0 <= int(value) < size}
    }


# Review -----------------------------------------------------------------------------------------


@dataclass
class Reviewed:
    """One question of a test, as the result page reviews it."""

    number: int
    question: Question
    answer: QuizAnswer | None

    @property
    def right(self) -> bool:
        return self.answer is not None and self.answer.score >= 1

    @property
    def your_answer(self) -> list[str]:
        return self.question.describe(self.answer.given) if self.answer else []

    @property
    def ordered(self) -> bool:
        return self.question.type == Question.ORDERING


def review(attempt: QuizAttempt) -> list[Reviewed]:
    answered = attempt.answers_by_key()
    return [
        Reviewed(number, question, answered.get(question.key))
        for number, question in enumerate(attempt.questions(), start=1)
    ]


@dataclass
class LessonToReview:
    lesson: Lesson
    sections: list[tuple[str, str]] = field(default_factory=list)  # (url, title), each once
    missed: list[int] = field(default_factory=list)  # question numbers, each once


def lessons_to_review(reviewed: list[Reviewed]) -> list[LessonToReview]:
    """Each lesson once: the lessons the missed (wrong or unanswered) questions
    point to, or for a missed question without a lesson the lessons of its topic;
    under each, the sections to reread and the missed questions, once each."""
    missed = [entry for entry in reviewed if not entry.right]
    topic_lessons = None
    by_lesson: dict[int, LessonToReview] = {}
    for entry in missed:
        question = entry.question
        if question.lesson is not None:
            lessons = [question.lesson]
        else:
            if topic_lessons is None:
                topic_lessons = list(Lesson.objects.all())
            lessons = [
                lesson for lesson in topic_lessons if question.topic in (lesson.topics or [])
            ]
        for lesson in lessons:
            item = by_lesson.setdefault(lesson.pk, LessonToReview(lesson))
            if entry.number not in item.missed:
                item.missed.append(entry.number)
            section = (question.lesson_url(), question.section_title())
            if question.lesson is lesson and section[1] and section not in item.sections:
                item.sections.append(section)
    return sorted(by_lesson.values(), key=lambda item: item.lesson.order)


def score(question: Question, given) -> float:
    if question.type == Question.MULTIPLE:
        return 1.0 if sorted(given) == sorted(question.answer or []) else 0.0
    if question.type == Question.ORDERING:
        return 1.0 if list(given) == list(range(len(question.items))) else 0.0
    if question.type == Question.TRUEFALSE:
        return 1.0 if given is question.answer else 0.0
    return 1.0 if given == question.answer else 0.0
