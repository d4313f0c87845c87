from __future__ import annotations

import difflib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from courseapp.lib.modules import MODULES


class ExerciseQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published_version__isnull=False)


class Exercise(models.Model):
    DIFFICULTIES = [
        ("introductory", "Introductory"),
        ("intermediate", "Intermediate"),
        ("advanced", "Advanced"),
    ]

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    module = models.PositiveSmallIntegerField(choices=sorted(MODULES.items()))
    order = models.PositiveSmallIntegerField(default=0)
    summary = models.TextField(blank=True)
    # Shown on the exercise cards; optional in exercise.yaml.
    difficulty = models.CharField(max_length=12, choices=DIFFICULTIES, blank=True)
    minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="About how long a learner needs, in minutes"
    )
    # What learners see and are graded against; None until a version validates.
    published_version = models.ForeignKey(
        "ExerciseVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["module", "order", "slug"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/exercises/{self.slug}/"

    @property
    def module_title(self) -> str:
        return MODULES[self.module]

    def latest_version(self) -> ExerciseVersion | None:
        return self.versions.order_by("-number").first()

    def solution_unlocked_for(self, user) -> bool:
        """The reference solution is shown after a pass, or after enough failed attempts."""
        if not user.is_authenticated or self.published_version is None:
            return False
        mine = self.submissions.filter(user=user)
        if mine.filter(status=Submission.PASSED).exists():
            return True
        return mine.filter(status=Submission.FAILED).count() >= self.published_version.reveal_after


class ExerciseVersion(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    scenario = models.CharField(max_length=60)
    statement = models.TextField(help_text="Markdown")
    statement_html = models.TextField()
    starter = models.TextField()
    solution = models.TextField()
    # {"variant name": {"source": "...", "expected": "invariant_name"}}
    variants = models.JSONField(default=dict, blank=True)
    hints = models.JSONField(default=list, blank=True)
    limits = models.JSONField(default=dict, blank=True)
    reveal_after = models.PositiveSmallIntegerField(
        default=5, help_text="Failed attempts before the solution is offered"
    )
    random_schedules = models.PositiveIntegerField(default=500)
    content_hash = models.CharField(max_length=64)
    validation = models.JSONField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["exercise", "number"]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "number"], name="unique_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.exercise.slug} v{self.number}"


class SubmissionQuerySet(models.QuerySet):
    def in_flight(self):
        return self.filter(status__in=Submission.IN_FLIGHT)

    def for_owner(self, user):
        return self.filter(user=user) if user.is_authenticated else self.none()


class Submission(models.Model):
    QUEUED, RUNNING, PASSED, FAILED, ERROR = "queued", "running", "passed", "failed", "error"
    STATUSES = [
        (QUEUED, "Queued"),
        (RUNNING, "Running"),
        (PASSED, "Passed"),
        (FAILED, "Failed"),
        (ERROR, "Error"),
    ]
    IN_FLIGHT = (QUEUED, RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    version = models.ForeignKey(
        ExerciseVersion, on_delete=models.PROTECT, related_name="submissions"
    )
    code = models.TextField()
    # The form carries a one-time token so a replayed POST cannot submit twice.
    client_token = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    result = models.JSONField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    deliveries = models.PositiveIntegerField(default=0, help_text="Times a worker picked it up")
    # host:pid of the process holding the grading claim, so a redelivery can tell a dead claimant.
    claimed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Fair share: where it came from, and the lane it was queued in (a heavy recent share waits in "low").
    client_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    lane = models.CharField(
        max_length=8, choices=[("normal", "Normal"), ("low", "Low priority")], default="normal"
    )
    # Stopped after its gradings crashed the grader again and again (a poison submission).
    retired = models.BooleanField(
        default=False, help_text="Stopped after crashing the grader repeatedly"
    )

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_token"], name="one_submission_per_token"
            ),
            # One grading in flight per learner, enforced by the database.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["queued", "running"]),
                name="one_grading_in_flight_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exercise.slug} by {self.user_id}: {self.status}"

    @property
    def is_done(self) -> bool:
        return self.status not in self.IN_FLIGHT

    def get_absolute_url(self) -> str:
        return f"/exercises/submissions/{self.pk}/"

    @property
    def result_data(self) -> dict:
        return self.result or {}

    @property
    def counterexample(self) -> dict | None:
        return self.result_data.get("counterexample") or None

    @property
    def was_unjailed(self) -> bool:
        return self.result_data.get("jailed") is False

    def diff_lines(self, previous: Submission | None) -> list[tuple[str, str]]:
        """(css class, line) pairs of a unified diff against the previous submission."""
        if previous is None:
            return []
        return unified_diff(previous.code, self.code, "previous", "this submission")


def unified_diff(
    before: str, after: str, before_name: str, after_name: str, context: int | None = 2
) -> list[tuple[str, str]]:
    """(css class, line) pairs of a unified diff; ``context=None`` keeps every line of both."""
    a, b = before.splitlines(), after.splitlines()
    n = max(len(a), len(b)) if context is None else context
    out = []
    for line in difflib.unified_diff(a, b, before_name, after_name, lineterm="", n=n):
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "add", "-": "del"}.get(line[:1], "same")
        out.append((kind, line))
    return out


class GradingRequest(models.Model):
    """The outbox row for grading: written in the submission's transaction,
    relayed to Celery after commit, and re-relayed by the sweeper if lost."""

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, related_name="grading_request"
    )
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_count = models.PositiveIntegerField(default=0)


class Replay(models.Model):
    """One counterexample schedule replayed by a worker (never in the web process).

    Claimed once and answered once, like a grading."""

    QUEUED, RUNNING, DONE = "queued", "running", "done"
    STATUSES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done")]
    IN_FLIGHT = (QUEUED, RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="replays")
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    result = models.JSONField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"replay of {self.submission_id}: {self.status}"

    @property
    def is_done(self) -> bool:
        return self.status == self.DONE

    def get_absolute_url(self) -> str:
        return f"/exercises/replays/{self.pk}/"

    @property
    def result_data(self) -> dict:
        return self.result or {}


class HintUse(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hint_uses"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE)
    revealed = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "exercise"], name="one_hint_row_per_exercise")
        ]

    @classmethod
    def revealed_for(cls, user, exercise) -> int:
        if not user.is_authenticated:
            return 0
        row = cls.objects.filter(user=user, exercise=exercise).first()
        return row.revealed if row else 0

    @classmethod
    def reveal_next(cls, user, exercise, available: int) -> int:
        """Reveal one more hint (never past the last); returns how many are now shown."""
        cls.objects.get_or_create(user=user, exercise=exercise)
        cls.objects.filter(user=user, exercise=exercise, revealed__lt=available).update(
            revealed=F("revealed") + 1
        )
        return cls.objects.get(user=user, exercise=exercise).revealed
