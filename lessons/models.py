from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from lessons.modules import MODULES, TOPICS


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
    SINGLE, MULTIPLE, TRUEFALSE, ORDERING, SPOTBUG = "single", "multiple", "truefalse", "ordering", "spotbug"
    TYPES = [(SINGLE, "Single choice"), (MULTIPLE, "Multiple select"), (TRUEFALSE, "True or false"),
             (ORDERING, "Ordering"), (SPOTBUG, "Spot the bug")]

    key = models.SlugField(max_length=100, unique=True)
    type = models.CharField(max_length=10, choices=TYPES)
    topic = models.CharField(max_length=30, choices=sorted(TOPICS.items()))
    lesson = models.ForeignKey(Lesson, null=True, on_delete=models.SET_NULL, related_name="questions")
    anchor = models.CharField(max_length=120, blank=True)
    prompt = models.TextField()
    code = models.TextField(blank=True)
    choices = models.JSONField(default=list, blank=True)
    items = models.JSONField(default=list, blank=True, help_text="Ordering: the items in the correct order")
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


class QuizAttempt(models.Model):
    # Anonymous attempts belong to a session until their learner logs in.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="quiz_attempts")
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


class QuizAnswer(models.Model):
    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT)
    given = models.JSONField()
    score = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")]


class LessonProgress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_visited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="one_progress_per_lesson")]
