"""What the dashboard shows, gathered in one place for the view and the export."""

from __future__ import annotations

from django.db.models import Count, Min, Q

from courseapp.lib.charts import score_chart_svg
from courseapp.lib.modules import MODULES, TOPICS
from exercises.models import Exercise, HintUse, Submission
from lessons import progress
from lessons.models import Lesson
from quicktest.attempts import attempts_for


def quiz_attempts(request) -> list:
    return list(attempts_for(request))


def exercise_stats(user) -> dict[str, dict]:
    """Per exercise: attempts, whether and when first passed, attempts it took, hints used."""
    if not user.is_authenticated:
        return {}
    rows = (
        Submission.objects.filter(user=user)
        .values("exercise__slug")
        .annotate(
            attempts=Count("id"), first_pass=Min("created_at", filter=Q(status=Submission.PASSED))
        )
    )
    stats = {
        row["exercise__slug"]: {
            "attempts": row["attempts"],
            "first_pass": row["first_pass"],
            "attempts_to_pass": None,
            "hints": 0,
        }
        for row in rows
    }
    for slug, data in stats.items():
        if data["first_pass"]:
            data["attempts_to_pass"] = Submission.objects.filter(
                user=user, exercise__slug=slug, created_at__lte=data["first_pass"]
            ).count()
    for hint in HintUse.objects.filter(user=user).select_related("exercise"):
        stats.setdefault(
            hint.exercise.slug,
            {"attempts": 0, "first_pass": None, "attempts_to_pass": None, "hints": 0},
        )["hints"] = hint.revealed
    return stats


def summary(request) -> dict:
    lessons = list(Lesson.objects.all())
    exercises = list(Exercise.objects.published())
    done = progress.completed_slugs(request)
    stats = exercise_stats(request.user)
    passed = {slug for slug, data in stats.items() if data["first_pass"]}
    modules = []
    for number, title in MODULES.items():
        in_lessons = [lesson for lesson in lessons if lesson.module == number]
        in_exercises = [exercise for exercise in exercises if exercise.module == number]
        lessons_done = sum(lesson.slug in done for lesson in in_lessons)
        exercises_passed = sum(exercise.slug in passed for exercise in in_exercises)
        modules.append(
            {
                "number": number,
                "title": title,
                # The bar counts lessons completed and exercises passed, together.
                "done": lessons_done + exercises_passed,
                "total": len(in_lessons) + len(in_exercises),
                "lessons_done": lessons_done,
                "lessons_total": len(in_lessons),
                "exercises_passed": exercises_passed,
                "exercises_total": len(in_exercises),
            }
        )
    attempts = quiz_attempts(request)
    finished_attempts = [a for a in attempts if a.finished_at]
    points = [
        (a.finished_at.strftime("%d %b %H:%M"), _fraction(a.score()))
        for a in reversed(finished_attempts)
    ]
    best_by_topic: dict[str, float] = {}
    for attempt in finished_attempts:
        for topic, (got, total) in attempt.topic_scores().items():
            if total:
                best_by_topic[topic] = max(best_by_topic.get(topic, 0.0), got / total)
    next_lesson = progress.last_visited(request) or next(
        (lesson for lesson in lessons if lesson.slug not in done), None
    )
    return {
        "lessons_done": len(done & {lesson.slug for lesson in lessons}),
        "lessons_total": len(lessons),
        "exercises_passed": len(passed & {e.slug for e in exercises}),
        "exercises_total": len(exercises),
        "modules": modules,
        "continue_at": next_lesson,
        "exercise_stats": [(e, stats[e.slug]) for e in exercises if e.slug in stats],
        "recent_submissions": (
            Submission.objects.filter(user=request.user).select_related("exercise")[:8]
            if request.user.is_authenticated
            else []
        ),
        "attempts": attempts[:10],
        # By title, in the course's order (the topic's slug is for the code, not the learner).
        "best_by_topic": [
            (TOPICS.get(topic, topic), best_by_topic[topic])
            for topic in sorted(best_by_topic, key=_topic_order)
        ],
        "chart": score_chart_svg(points, "Quick Test score over time"),
    }


def _topic_order(topic: str) -> tuple[int, str]:
    order = list(TOPICS)
    return (order.index(topic) if topic in order else len(order), topic)


def _fraction(score: tuple[float, int]) -> float:
    got, total = score
    return got / total if total else 0.0
