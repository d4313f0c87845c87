"""Everything we keep about a learner, as JSON ("download my data")."""

from __future__ import annotations

from exercises.models import HintUse, Submission
from lessons.models import LessonProgress, QuizAttempt


def learner_data(user) -> dict:
    return {
        "account": {"email": user.email, "date_joined": user.date_joined.isoformat()},
        "lessons": [
            {
                "lesson": row.lesson.slug,
                "completed_at": _iso(row.completed_at),
                "last_visited_at": _iso(row.last_visited_at),
            }
            for row in LessonProgress.objects.filter(user=user).select_related("lesson")
        ],
        "quick_test_attempts": [
            {
                "id": attempt.pk,
                "created_at": _iso(attempt.created_at),
                "finished_at": _iso(attempt.finished_at),
                "questions": attempt.question_keys,
                "answers": [
                    {
                        "question": a.question.key,
                        "given": a.given,
                        "score": a.score,
                        "at": _iso(a.created_at),
                    }
                    for a in attempt.answers.select_related("question")
                ],
            }
            for attempt in QuizAttempt.objects.filter(user=user)
        ],
        "submissions": [
            {
                "id": str(s.pk),
                "exercise": s.exercise.slug,
                "version": s.version.number,
                "status": s.status,
                "code": s.code,
                "result": s.result,
                "created_at": _iso(s.created_at),
                "finished_at": _iso(s.finished_at),
            }
            for s in Submission.objects.filter(user=user).select_related("exercise", "version")
        ],
        "hints": [
            {"exercise": h.exercise.slug, "revealed": h.revealed}
            for h in HintUse.objects.filter(user=user).select_related("exercise")
        ],
    }


def _iso(value):
    return value.isoformat() if value else None
