"""What the dashboard shows, gathered in one place for the view and the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from courseapp.lib.charts import score_chart_svg
from courseapp.lib.modules import MODULES, TOPICS
from exercises.models import Exercise, HintUse, Submission
from lessons import progress
from lessons.models import Lesson
from quicktest.attempts import attempts_for


def quiz_attempts(request) -> list:
    return list(attempts_for(request))


@dataclass(frozen=True)
class RecentSubmission:
    title: str
    status: str
    created_at: datetime

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


STATUS_LABELS = dict(Submission.STATUSES)


def submissions(user) -> list[tuple[str, str, str, datetime]]:
    """The learner's submissions, oldest first, as (exercise slug, exercise title, status, sent
    at): one small query serves both the statistics and the recent list."""
    if not user.is_authenticated:
        return []
    return list(
        Submission.objects.filter(user=user)
        .order_by("created_at")
        .values_list("exercise__slug", "exercise__title", "status", "created_at")
    )


def exercise_stats(user, rows: list[tuple[str, str, str, datetime]]) -> dict[str, dict]:
    """Per exercise: attempts, whether and when first passed, attempts it took (the submissions
    up to and including the first pass), hints used. `rows` comes from submissions()."""
    if not user.is_authenticated:
        return {}
    times: dict[str, list[datetime]] = {}
    first_pass: dict[str, datetime] = {}
    for slug, _title, status, created_at in rows:
        times.setdefault(slug, []).append(created_at)
        if status == Submission.PASSED and slug not in first_pass:
            first_pass[slug] = created_at
    stats = {
        slug: {
            "attempts": len(sent),
            "first_pass": first_pass.get(slug),
            "attempts_to_pass": (
                sum(when <= first_pass[slug] for when in sent) if slug in first_pass else None
            ),
            "hints": 0,
        }
        for slug, sent in times.items()
    }
    for slug, revealed in HintUse.objects.filter(user=user).values_list(
        "exercise__slug", "revealed"
    ):
        stats.setdefault(
            slug, {"attempts": 0, "first_pass": None, "attempts_to_pass": None, "hints": 0}
        )["hints"] = revealed
    return stats


def summary(request) -> dict:
    # Only what the page shows: a lesson's text is most of its row.
    lessons = list(Lesson.objects.only("slug", "title", "module", "order"))
    exercises = list(Exercise.objects.published().only("slug", "title", "module", "order"))
    done, last_visited = progress.completed_and_last_visited(request, lessons)
    sent = submissions(request.user)
    stats = exercise_stats(request.user, sent)
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
    next_lesson = last_visited or next(
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
        "recent_submissions": [
            RecentSubmission(title, status, created_at)
            for _slug, title, status, created_at in reversed(sent[-8:])
        ],
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
