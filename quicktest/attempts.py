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

from django.db import IntegrityError, transaction
from django.utils import timezone

from lessons.models import Question, QuizAnswer, QuizAttempt

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


class QuizError(Exception):
    """A request the Quick Test refuses: an HTTP status and a readable reason."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


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
    types = Counter()
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
    questions = draw(Question.objects.active(), rng)
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


def attempts_for(request):
    """The learner's attempts, newest first, with their questions preloaded so
    score() and topic_scores() cost no further queries: a signed-in learner's
    own attempts, or an anonymous visitor's attempts from this session."""
    if request.user.is_authenticated:
        attempts = QuizAttempt.objects.filter(user=request.user)
    else:
        attempts = QuizAttempt.objects.filter(
            user=None, pk__in=session_attempt_ids(request.session)
        )
    attempts = list(attempts.prefetch_related("answers"))
    keys = {key for attempt in attempts for key in attempt.question_keys}
    bank = {
        question.key: question
        for question in Question.objects.filter(key__in=keys).select_related("lesson")
    }
    for attempt in attempts:
        attempt._questions = [bank[key] for key in attempt.question_keys if key in bank]
    return attempts


def get_attempt(request, attempt_id: int) -> QuizAttempt:
    """The attempt, if it belongs to this learner; anyone else's is a 404."""
    attempt = QuizAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or not owns(request, attempt):
        raise QuizError(
            404, "There is no such test in your session. Start a new one from the Quick Test page."
        )
    return attempt


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

ALREADY_ANSWERED = "You already answered this question; your first answer stands."


def submit(attempt: QuizAttempt, question_key, data) -> QuizAnswer:
    """Grade and save one answer. Anything but the next question of a live
    attempt is refused with a QuizError and changes nothing."""
    caller_copy = attempt
    with transaction.atomic():
        attempt = QuizAttempt.objects.select_for_update().get(pk=attempt.pk)
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
            raise QuizError(409, ALREADY_ANSWERED)
        question = attempt.current_question()
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
            raise QuizError(409, ALREADY_ANSWERED) from None
        attempt.forget_answers()
        if attempt.current_question() is None:
            attempt.finished_at = timezone.now()
            attempt.save(update_fields=["finished_at"])
    # Hand the fresh state back to the caller's copy rather than reading it again.
    caller_copy.finished_at = attempt.finished_at
    caller_copy._questions = attempt.questions()
    caller_copy._answers = attempt.answers_by_key()
    return answer


def read_answer(question: Question, layout: list[int] | None, data) -> object:
    """The learner's answer from the form, checked against the question's shape.
    Returns what is stored in QuizAnswer.given (indices into the question's own
    choices/items, never into the shuffled display order)."""
    if question.type in (Question.SINGLE, Question.SPOTBUG):
        values = data.getlist("choice")
        if len(values) != 1:
            raise QuizError(400, "Choose one option.")
        return _index(values[0], len(question.choices))
    if question.type == Question.TRUEFALSE:
        value = data.get("choice")
        if value not in ("true", "false"):
            raise QuizError(400, "Choose true or false.")
        return value == "true"
    if question.type == Question.MULTIPLE:
        values = data.getlist("choice")
        if not values:
            raise QuizError(400, "Choose at least one option.")
        chosen = sorted({_index(value, len(question.choices)) for value in values})
        if len(chosen) != len(values):
            raise QuizError(400, "An option was sent twice.")
        return chosen
    return _read_order(question, layout, data)


def _read_order(question: Question, layout, data) -> list[int]:
    size = len(question.items)
    layout = layout if layout and sorted(layout) == list(range(size)) else list(range(size))
    sent = sorted(name for name in data if name.startswith("position-"))
    expected = sorted(f"position-{shown}" for shown in range(size))
    if sent != expected:
        raise QuizError(400, f"Give a position to each of the {size} items, and only to them.")
    order = [None] * size
    for shown in range(size):
        position = _index(data.get(f"position-{shown}"), size, first=1)
        if order[position] is not None:
            raise QuizError(
                400, f"Two items were given position {position + 1}; each position is used once."
            )
        order[position] = layout[shown]
    return order


def _index(value, size: int, first: int = 0) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise QuizError(400, "That answer is not one of the options.") from None
    if not first <= number < size + first:
        raise QuizError(400, "That answer is not one of the options.")
    return number - first


def score(question: Question, given) -> float:
    if question.type == Question.MULTIPLE:
        return 1.0 if sorted(given) == sorted(question.answer) else 0.0
    if question.type == Question.ORDERING:
        return 1.0 if list(given) == list(range(len(question.items))) else 0.0
    if question.type == Question.TRUEFALSE:
        return 1.0 if given is question.answer else 0.0
    return 1.0 if given == question.answer else 0.0
