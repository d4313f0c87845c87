"""What the dashboard shows, gathered in one place for the view and the export."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from courseapp.lib import sql
from courseapp.lib.charts import score_chart_svg
from courseapp.lib.modules import MODULES, TOPICS
from courseapp.lib.sql import quote
from exercises.models import Exercise, HintUse, Submission
from lessons import progress
from lessons.models import Lesson
from quicktest.attempts import attempts_for

# The dashboard's reads are written out as SQL: building its eight small queries through the ORM
# cost more than running them and rendering the page together. Lessons and exercises come as plain
# rows; the learner's own rows through raw(), which converts each column (dates above all) as the
# ORM does.


@dataclass(frozen=True)
class Entry:
    """A lesson or a published exercise as the dashboard lists it."""

    pk: int
    slug: str
    title: str
    module: int
    url: str


def course_lessons() -> list[Entry]:
    """Every lesson, in order (a lesson's text is most of its row, and is not needed here)."""
    return [
        Entry(pk, slug, title, module, _url(Lesson, slug))
        for pk, slug, title, module in sql.rows(
            f"SELECT {quote('id', 'slug', 'title', 'module')}"
            f" FROM {quote(Lesson._meta.db_table)} ORDER BY {quote('order')}"
        )
    ]


def published_exercises() -> list[Entry]:
    """Exercise.objects.published() in its order (module, order, slug)."""
    return [
        Entry(pk, slug, title, module, _url(Exercise, slug))
        for pk, slug, title, module in sql.rows(
            f"SELECT {quote('id', 'slug', 'title', 'module')}"
            f" FROM {quote(Exercise._meta.db_table)}"
            f" WHERE {quote('published_version_id')} IS NOT NULL"
            f" ORDER BY {quote('module')}, {quote('order')}, {quote('slug')}"
        )
    ]


@functools.lru_cache(maxsize=2048)
def _url(model: type[Lesson] | type[Exercise], slug: str) -> str:
    """The address of a lesson or an exercise, which depends on its slug alone."""
    return model(slug=slug).get_absolute_url()


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
    rows = Submission.objects.raw(
        f"SELECT s.{quote('id')}, s.{quote('status')}, s.{quote('created_at')},"
        f" e.{quote('slug')} AS exercise_slug, e.{quote('title')} AS exercise_title"
        f" FROM {quote(Submission._meta.db_table)} s"
        f" JOIN {quote(Exercise._meta.db_table)} e ON e.{quote('id')} = s.{quote('exercise_id')}"
        f" WHERE s.{quote('user_id')} = %s ORDER BY s.{quote('created_at')}",
        [user.pk],
    )
    # exercise_slug and exercise_title are the query's own columns (raw() sets them too).
    return [
        (
            row.exercise_slug,  # type: ignore[attr-defined]
            row.exercise_title,  # type: ignore[attr-defined]
            row.status,
            row.created_at,
        )
        for row in rows
    ]


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
    hints = HintUse.objects.raw(
        f"SELECT h.{quote('id')}, h.{quote('revealed')}, e.{quote('slug')} AS exercise_slug"
        f" FROM {quote(HintUse._meta.db_table)} h"
        f" JOIN {quote(Exercise._meta.db_table)} e ON e.{quote('id')} = h.{quote('exercise_id')}"
        f" WHERE h.{quote('user_id')} = %s",
        [user.pk],
    )
    for hint in hints:
        stats.setdefault(
            hint.exercise_slug,  # type: ignore[attr-defined]  # the query's own column
            {"attempts": 0, "first_pass": None, "attempts_to_pass": None, "hints": 0},
        )["hints"] = hint.revealed
    return stats


def summary(request) -> dict:
    lessons = course_lessons()
    exercises = published_exercises()
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
    # Plain values only (the page is kept by what it shows: courseapp/views.py).
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
        "attempts": [
            {
                "created_at": attempt.created_at,
                "points": points,
                "total": total,
                "finished": attempt.finished_at is not None,
            }
            for attempt in attempts[:10]
            for points, total in [attempt.score()]
        ],
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
