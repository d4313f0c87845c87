from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from courseapp.lib.modules import MODULES, TOPICS


class Lesson(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    module = models.PositiveSmallIntegerField(choices=sorted(MODULES.items()))
    order = models.PositiveSmallIntegerField(unique=True)
    summary = models.TextField()
    body = models.TextField(help_text="Markdown source")
    html = models.TextField(help_text="Rendered, sanitised HTML")
    toc = models.JSONField(default=list)
    reading_minutes = models.PositiveSmallIntegerField(default=1)
    topics = models.JSONField(default=list)
    exercise_slugs = models.JSONField(default=list)
    playgrounds = models.JSONField(default=list)
    self_check = models.JSONField(default=list)
    source = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/lessons/{self.slug}/"

    @property
    def module_title(self) -> str:
        return MODULES[self.module]

    def previous(self) -> Lesson | None:
        return Lesson.objects.filter(order__lt=self.order).order_by("-order").first()

    def next(self) -> Lesson | None:
        return Lesson.objects.filter(order__gt=self.order).order_by("order").first()


class QuestionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Question(models.Model):
    SINGLE, MULTIPLE, TRUEFALSE, ORDERING, SPOTBUG = (
        "single",
        "multiple",
        "truefalse",
        "ordering",
        "spotbug",
    )
    TYPES = [
        (SINGLE, "Single choice"),
        (MULTIPLE, "Multiple select"),
        (TRUEFALSE, "True or false"),
        (ORDERING, "Ordering"),
        (SPOTBUG, "Spot the bug"),
    ]

    key = models.SlugField(max_length=100, unique=True)
    type = models.CharField(max_length=10, choices=TYPES)
    topic = models.CharField(max_length=30, choices=sorted(TOPICS.items()))
    lesson = models.ForeignKey(
        Lesson, null=True, on_delete=models.SET_NULL, related_name="questions"
    )
    anchor = models.CharField(max_length=120, blank=True)
    prompt = models.TextField()
    code = models.TextField(blank=True)
    choices = models.JSONField(default=list, blank=True)
    items = models.JSONField(
        default=list, blank=True, help_text="Ordering: the items in the correct order"
    )
    answer = models.JSONField(null=True, blank=True)
    explanation = models.TextField()
    # Removed from the content files: kept so past attempts still read correctly.
    active = models.BooleanField(default=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["topic", "key"]

    def __str__(self) -> str:
        return self.key

    def lesson_url(self) -> str:
        if not self.lesson:
            return ""
        return self.lesson.get_absolute_url() + (f"#{self.anchor}" if self.anchor else "")

    def section_title(self) -> str:
        toc = self.lesson.toc if self.lesson else []
        return next((entry.get("text", "") for entry in toc if entry.get("id") == self.anchor), "")

    def code_lines(self) -> list[tuple[int, str]]:
        return list(enumerate(self.code.splitlines(), start=1))

    def describe(self, given) -> list[str]:
        """An answer (the correct one, or a learner's) as the texts it stands for."""
        if self.type == self.TRUEFALSE:
            return ["True" if given else "False"]
        if self.type == self.ORDERING:
            return [self.items[index] for index in given]
        indices = given if isinstance(given, list) else [given]
        return [self.choices[index] for index in indices]

    def correct_answer(self) -> list[str]:
        return self.describe(
            list(range(len(self.items))) if self.type == self.ORDERING else self.answer
        )


# The question bank changes only when content is loaded or an instructor edits a question, and a
# Quick Test answer needs its questions. Each process keeps the bank it built in memory, under a
# version token kept in the cache that every save replaces: unpickling ~100 questions on every
# request cost more than the rest of an answer. A shared cache (Redis) carries a new token to every
# process at once; a per-process cache cannot reach the others, so a bank is also rebuilt after
# BANK_SECONDS. The token is random, not a counter, so a cleared cache never brings back a token
# that an old bank was built under.
BANK_VERSION_KEY = "quiz-bank-version"
BANK_SECONDS = 300
_bank: tuple[object, float, dict[str, Question]] | None = None


def question_bank() -> dict[str, Question]:
    """Every question (active or not: old attempts still point at them) by key, with its lesson.
    Shared by the requests of this process: read it, never change the questions in it."""
    global _bank
    version = cache.get_or_set(BANK_VERSION_KEY, _new_bank_version, None)
    held = _bank
    if held is not None and held[0] == version and time.monotonic() < held[1]:
        return held[2]
    # The lessons' text is not needed beside a question (titles, addresses and sections are).
    rows = Question.objects.select_related("lesson").defer("lesson__body", "lesson__html")
    bank = {q.key: q for q in rows}
    _bank = (version, time.monotonic() + BANK_SECONDS, bank)
    return bank


def _new_bank_version() -> str:
    return uuid.uuid4().hex


@receiver(post_save, sender=Question, dispatch_uid="lessons.bank.saved")
@receiver(post_delete, sender=Question, dispatch_uid="lessons.bank.deleted")
@receiver(post_save, sender=Lesson, dispatch_uid="lessons.bank.lesson_saved")
@receiver(post_delete, sender=Lesson, dispatch_uid="lessons.bank.lesson_deleted")
def forget_question_bank(**kwargs) -> None:
    cache.set(BANK_VERSION_KEY, _new_bank_version(), None)


class QuizAttempt(models.Model):
    # Anonymous attempts belong to a session until their learner logs in.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quiz_attempts",
    )
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    question_keys = models.JSONField(default=list)
    # Ordering questions show their items in a per-attempt shuffled order.
    layouts = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    LIFETIME = timedelta(hours=6)

    class Meta:
        ordering = ["-created_at"]

    def is_expired(self) -> bool:
        return timezone.now() > self.created_at + self.LIFETIME

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    def questions(self) -> list[Question]:
        """The drawn questions in test order (cached; attempts_for() preloads it)."""
        if getattr(self, "_questions", None) is None:
            bank = question_bank()
            self._questions = [bank[key] for key in self.question_keys if key in bank]
        return self._questions

    def answers_by_key(self) -> dict[str, QuizAnswer]:
        """Answers so far by question key (cached; submit() adds the one it saves)."""
        if getattr(self, "_answers", None) is None:
            keys = {question.pk: question.key for question in self.questions()}
            self._answers = {
                keys[answer.question_id]: answer
                for answer in self.answers.all()
                if answer.question_id in keys
            }
        return self._answers

    def current_question(self) -> Question | None:
        answered = self.answers_by_key()
        return next(
            (question for question in self.questions() if question.key not in answered), None
        )

    def position(self, question: Question) -> int:
        return self.question_keys.index(question.key) + 1

    def shown_items(self, question: Question) -> list[tuple[int, str]]:
        """Ordering items as (shown position, text) in this attempt's shuffled order."""
        layout = self.layouts.get(question.key) or list(range(len(question.items)))
        return [(shown, question.items[index]) for shown, index in enumerate(layout)]

    def score(self) -> tuple[float, int]:
        """(points, number of questions); unanswered questions count as 0."""
        return sum(answer.score for answer in self.answers_by_key().values()), len(
            self.question_keys
        )

    def topic_scores(self) -> dict[str, tuple[float, int]]:
        """{topic: (points, questions)} in the order the topics are listed in TOPICS."""
        answered = self.answers_by_key()
        scores: dict[str, list] = {}
        for question in self.questions():
            entry = scores.setdefault(question.topic, [0.0, 0])
            entry[0] += answered[question.key].score if question.key in answered else 0.0
            entry[1] += 1
        return {topic: tuple(scores[topic]) for topic in TOPICS if topic in scores}


class QuizAnswer(models.Model):
    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT)
    given = models.JSONField()
    score = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")
        ]


class LessonProgress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_visited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lesson"], name="one_progress_per_lesson")
        ]
