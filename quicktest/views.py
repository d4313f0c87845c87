import logging

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from courseapp.lib.modules import TOPICS
from lessons.models import Question
from quicktest import attempts as quiz
from quicktest.attempts import QuizError

logger = logging.getLogger(__name__)


@require_GET
def start(request):
    unfinished = [
        attempt
        for attempt in quiz.attempts_for(request)
        if not attempt.is_finished and not attempt.is_expired()
    ][:1]
    ctx = {
        "count": min(quiz.QUESTIONS_PER_TEST, Question.objects.active().count()),
        "rules": [(label, quiz.SCORING_RULES[value]) for value, label in Question.TYPES],
        "resume": unfinished[0] if unfinished else None,
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
    try:
        attempt = quiz.get_attempt(request, attempt_id)
    except QuizError as exc:
        return _refuse(request, exc)
    try:
        answer = quiz.submit(attempt, request.POST.get("question"), request.POST)
    except QuizError as exc:
        return _refuse(request, exc, attempt)
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
    ctx = {
        "attempt": attempt,
        "points": points,
        "total": total,
        "topics": topics,
        "review": attempt.lessons_to_review(),
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


def _question_ctx(attempt, question):
    ctx = {
        "attempt": attempt,
        "question": question,
        "number": attempt.position(question),
        "total": len(attempt.question_keys),
        "answered": len(attempt.answers_by_key()),
    }
    if question.type == Question.ORDERING:
        ctx["ordering_items"] = attempt.shown_items(question)
        ctx["positions"] = range(1, len(question.items) + 1)
    return ctx


def _feedback_ctx(attempt, answer):
    question = answer.question
    return {
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


def _region(request, attempt, partial, ctx):
    if request.htmx:
        return render(request, partial, ctx)
    return render(request, "quicktest/attempt.html", {**ctx, "partial": partial})


def _refuse(request, exc: QuizError, attempt=None):
    logger.info("quick test refused %s %s: %s", request.method, request.path, exc.status)
    ctx = {"message": exc.message, "status": exc.status, "attempt": attempt}
    if request.htmx:
        # htmx does not swap 4xx responses: load the test's current state, with the message on top.
        if exc.status != 410:  # the expired test's page says so itself
            messages.error(request, exc.message)
        response = render(request, "quicktest/_error.html", ctx, status=exc.status)
        response["HX-Redirect"] = (
            reverse("quiz:attempt", args=[attempt.pk]) if attempt else reverse("quiz:start")
        )
        return response
    return render(request, "quicktest/error.html", ctx, status=exc.status)
