import logging

from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from courseapp.lib.modules import TOPICS
from lessons.models import Question, question_bank
from quicktest import attempts as quiz
from quicktest.attempts import AlreadyAnswered, AnswerError, QuizError

logger = logging.getLogger(__name__)


@require_GET
def start(request):
    active = sum(question.active for question in question_bank().values())
    ctx = {
        "count": min(quiz.QUESTIONS_PER_TEST, active),
        "rules": [(label, quiz.SCORING_RULES[value]) for value, label in Question.TYPES],
        "resume": quiz.resumable_attempt(request),
    }
    return render(request, "quicktest/start.html", ctx)


@require_POST
def new(request):
    try:
        attempt = quiz.start_attempt(request)
    except QuizError as exc:
        return _refuse(request, exc)
    return redirect("quiz:attempt", attempt.pk)


@require_GET
def attempt(request, attempt_id):
    try:
        attempt = quiz.get_attempt(request, attempt_id)
    except QuizError as exc:
        return _refuse(request, exc)
    answer = _answer_to_show(attempt, request.GET.get("answered"))
    if answer:
        return _region(request, attempt, "quicktest/_feedback.html", _feedback_ctx(attempt, answer))
    question = attempt.current_question()
    if question is None or attempt.is_finished:
        return redirect("quiz:result", attempt.pk)
    if attempt.is_expired():
        return _refuse(
            request,
            QuizError(410, "This test expired: a test stays open for six hours. Start a new one."),
            attempt,
        )
    return _region(request, attempt, "quicktest/_question.html", _question_ctx(attempt, question))


@require_POST
def answer(request, attempt_id):
    # What the checks read from the request (the form, the session, who is signed in) is read
    # before the transaction: on SQLite it holds the database's one write lock from its start,
    # and a second worker's answer sleeps until it is free.
    _ = (request.POST, quiz.session_attempt_ids(request.session), request.user.is_authenticated)
    with transaction.atomic():
        try:
            attempt = quiz.get_attempt(request, attempt_id, lock=True)
        except QuizError as exc:
            return _refuse(request, exc)
        try:
            answer = quiz.submit(attempt, request.POST.get("question"), request.POST)
        except QuizError as exc:
            return _refuse_answer(request, attempt, exc)
    if request.htmx:
        return render(request, "quicktest/_feedback.html", _feedback_ctx(attempt, answer))
    return redirect(
        reverse("quiz:attempt", args=[attempt.pk])
        + f"?answered={attempt.position(answer.question)}"
    )


@require_GET
def result(request, attempt_id):
    try:
        attempt = quiz.get_attempt(request, attempt_id)
    except QuizError as exc:
        return _refuse(request, exc)
    if not attempt.is_finished and not attempt.is_expired():
        return redirect("quiz:attempt", attempt.pk)
    points, total = attempt.score()
    topics = [
        (TOPICS[topic], right, count) for topic, (right, count) in attempt.topic_scores().items()
    ]
    reviewed = quiz.review(attempt)
    ctx = {
        "attempt": attempt,
        "points": points,
        "total": total,
        "topics": topics,
        "reviewed": reviewed,
        "lessons": quiz.lessons_to_review(reviewed),
    }
    return render(request, "quicktest/result.html", ctx)


def _answer_to_show(attempt, position):
    """The answer whose feedback a plain form post was redirected to (?answered=N)."""
    if (
        not position
        or not position.isdigit()
        or not 1 <= int(position) <= len(attempt.question_keys)
    ):
        return None
    return attempt.answers_by_key().get(attempt.question_keys[int(position) - 1])


def _question_ctx(attempt, question, error: QuizError | None = None, data=None):
    """The question form; after a refused answer, with the error beside the
    question and (for an AnswerError) what the learner sent that still fits."""
    kept = quiz.kept_answer(question, data) if isinstance(error, AnswerError) else {}
    invalid = error.fields if isinstance(error, AnswerError) else frozenset()
    chosen = kept.get("choices", set())
    ctx = {
        "attempt": attempt,
        "question": question,
        "number": attempt.position(question),
        "total": len(attempt.question_keys),
        "answered": len(attempt.answers_by_key()),
        "error": error.message if error else "",
        "choice_invalid": "choice" in invalid,
        "choices": [(index, text, index in chosen) for index, text in enumerate(question.choices)],
        "truefalse": kept.get("truefalse"),
    }
    if question.type == Question.ORDERING:
        positions = kept.get("positions", {})
        ctx["ordering_items"] = [
            (shown, text, positions.get(shown), f"position-{shown}" in invalid)
            for shown, text in attempt.shown_items(question)
        ]
        ctx["positions"] = range(1, len(question.items) + 1)
    return ctx


def _feedback_ctx(attempt, answer, notice=""):
    question = answer.question
    return {
        "notice": notice,
        "attempt": attempt,
        "question": question,
        "answer": answer,
        "correct": answer.score >= 1,
        "number": attempt.position(question),
        "total": len(attempt.question_keys),
        "answered": len(attempt.answers_by_key()),
        "finished": attempt.current_question() is None,
        "your_answer": question.describe(answer.given),
        "ordered": question.type == Question.ORDERING,
    }


# htmx leaves 4xx responses unswapped; static/js/quick-test.js swaps the ones that carry this
# header (the Quick Test's own refusals) into the question's region, and no others.
REFUSAL_HEADER = "X-Quick-Test-Refusal"


def _partial(request, template, ctx, status):
    response = render(request, template, ctx, status=status)
    if status >= 400:
        response[REFUSAL_HEADER] = str(status)
    return response


def _region(request, attempt, partial, ctx, status=200):
    if request.htmx:
        return _partial(request, partial, ctx, status)
    return render(request, "quicktest/attempt.html", {**ctx, "partial": partial}, status=status)


def _refuse_answer(request, attempt, exc: QuizError):
    """A refused answer to a live test: the region shows where the test stands,
    with the reason beside the question, and keeps what the learner sent when the
    question is still the one to answer. Nothing goes to the site-wide messages,
    so the reason is gone with the next question."""
    if attempt.is_finished or exc.status == 410:
        return _refuse(request, exc, attempt)
    logger.info("quick test answer refused %s: %s", request.path, exc.status)
    if isinstance(exc, AlreadyAnswered):
        given = attempt.answers_by_key().get(exc.question_key)
        if given is not None:
            ctx = _feedback_ctx(attempt, given, notice=exc.message)
            return _region(request, attempt, "quicktest/_feedback.html", ctx, exc.status)
    question = attempt.current_question()
    if question is None:
        return _refuse(request, exc, attempt)
    ctx = _question_ctx(attempt, question, exc, request.POST)
    return _region(request, attempt, "quicktest/_question.html", ctx, exc.status)


def _refuse(request, exc: QuizError, attempt=None):
    """A refusal with no question to show: the reason and the ways on (swapped
    into the question's region for htmx)."""
    logger.info("quick test refused %s %s: %s", request.method, request.path, exc.status)
    ctx = {"message": exc.message, "status": exc.status, "attempt": attempt}
    if request.htmx:
        return _partial(request, "quicktest/_error.html", ctx, exc.status)
    return render(request, "quicktest/error.html", ctx, status=exc.status)
