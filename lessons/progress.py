"""Lesson progress for signed-in learners (rows) and anonymous visitors (the
session), behind one set of functions so views never care which."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from allauth.account.signals import user_logged_in
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from courseapp.lib.sql import quote
from lessons.models import Lesson, LessonProgress

SESSION_KEY = "lesson_progress"


def _session(request) -> dict:
    return request.session.setdefault(SESSION_KEY, {"completed": {}, "visited": {}})


# Re-reading the same lesson within this window is not worth a write.
VISIT_DEBOUNCE = timedelta(minutes=5)


def record_visit(request, lesson: Lesson) -> None:
    now = timezone.now()
    last = request.session.get("last_visit")
    if last and last[0] == lesson.slug and now - _parse(last[1]) < VISIT_DEBOUNCE:
        return
    request.session["last_visit"] = [lesson.slug, now.isoformat()]
    if request.user.is_authenticated:
        LessonProgress.objects.update_or_create(
            user=request.user, lesson=lesson, defaults={"last_visited_at": now}
        )
    else:
        _session(request)["visited"][lesson.slug] = now.isoformat()
        request.session.modified = True


def set_completed(request, lesson: Lesson, done: bool) -> None:
    when = timezone.now() if done else None
    if request.user.is_authenticated:
        LessonProgress.objects.update_or_create(
            user=request.user, lesson=lesson, defaults={"completed_at": when}
        )
    else:
        completed = _session(request)["completed"]
        if done:
            completed[lesson.slug] = (when or timezone.now()).isoformat()
        else:
            completed.pop(lesson.slug, None)
        request.session.modified = True


def completed_slugs(request) -> set[str]:
    if request.user.is_authenticated:
        return set(
            LessonProgress.objects.filter(
                user=request.user, completed_at__isnull=False
            ).values_list("lesson__slug", flat=True)
        )
    return set(request.session.get(SESSION_KEY, {}).get("completed", {}))


def last_visited(request) -> Lesson | None:
    if request.user.is_authenticated:
        row = (
            LessonProgress.objects.filter(user=request.user)
            .select_related("lesson")
            .order_by("-last_visited_at")
            .first()
        )
        return row.lesson if row else None
    visited = request.session.get(SESSION_KEY, {}).get("visited", {})
    if not visited:
        return None
    slug = max(visited, key=visited.get)
    return Lesson.objects.filter(slug=slug).first()


class _Listed(Protocol):
    @property
    def pk(self) -> Any: ...

    @property
    def slug(self) -> str: ...


L = TypeVar("L", bound=_Listed)


def completed_and_last_visited(request, lessons: Sequence[L]) -> tuple[set[str], L | None]:
    """completed_slugs() and last_visited() together, taking the lessons from `lessons` (already
    read by the caller, as Lesson rows or anything with their pk and slug): one query for a
    signed-in learner, none for a visitor."""
    by_id = {lesson.pk: lesson for lesson in lessons}
    if request.user.is_authenticated:
        # Written out: building this one-table read through the ORM cost more than running it.
        rows = [
            (row.lesson_id, row.completed_at, row.last_visited_at)
            for row in LessonProgress.objects.raw(
                f"SELECT {quote('id')}, {quote('lesson_id')}, {quote('completed_at')},"
                f" {quote('last_visited_at')} FROM {quote(LessonProgress._meta.db_table)}"
                f" WHERE {quote('user_id')} = %s",
                [request.user.pk],
            )
        ]
        done = {by_id[pk].slug for pk, completed, _ in rows if completed and pk in by_id}
        latest = max(rows, key=lambda row: row[2], default=None)
        return done, by_id.get(latest[0]) if latest else None
    data = request.session.get(SESSION_KEY, {})
    visited = data.get("visited", {})
    slug = max(visited, key=visited.get) if visited else None
    return set(data.get("completed", {})), next(
        (lesson for lesson in lessons if lesson.slug == slug), None
    )


def merge_into_account(session, user) -> int:
    """Fold anonymous progress into the account, keeping the better of the two:
    a lesson completed in either place stays completed, with the earlier date.
    Idempotent: merging the same session twice adds nothing."""
    data = session.get(SESSION_KEY) or {}
    merged = 0
    lessons = {
        lesson.slug: lesson
        for lesson in Lesson.objects.filter(
            slug__in=set(data.get("completed", {})) | set(data.get("visited", {}))
        )
    }
    for slug, lesson in lessons.items():
        row, _ = LessonProgress.objects.get_or_create(user=user, lesson=lesson)
        done = _parse(data.get("completed", {}).get(slug))
        seen = _parse(data.get("visited", {}).get(slug))
        if done and (row.completed_at is None or done < row.completed_at):
            row.completed_at = done
            merged += 1
        if seen and seen > row.last_visited_at:
            row.last_visited_at = seen
        row.save()
    session.pop(SESSION_KEY, None)
    return merged


def _parse(value: str | None):
    return parse_datetime(value) if value else None


def _merge_on_login(sender, request, user, **kwargs) -> None:
    merge_into_account(request.session, user)


def connect_signals() -> None:
    user_logged_in.connect(_merge_on_login, dispatch_uid="lessons.progress.merge_on_login")
