"""Instructor authoring, as plain functions the teach views, tasks and commands share.

- Roles: the "Instructors" group and the permission that opens /teach/.
- Drafts: an ExerciseSpec (the loader's own dataclass) becomes a new
  ExerciseVersion whenever its content hash changes. Versions are never edited
  in place, so a validation always belongs to exactly the content it checked
  and every submission keeps the version it was graded against.
- Validation runs the reference, the starter and every known-buggy variant in
  the real jail (through grade_code) and is stored on the version; publishing
  is refused until that exact version passed.
- Export writes the layout exercises/content/<slug>/ that the loader reads.
- Analytics for exercises and Quick Test questions.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from pathlib import Path

import yaml
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from courseapp.lib.markdown import render_html as render_markdown
from exercises.content_loader import ExerciseSpec
from exercises.grading import Verdict, error_result, grade_code, grading_options
from exercises.models import Exercise, ExerciseVersion, HintUse, Submission
from lessons.models import Lesson, Question
from quicktest.loader import validate_question
from sandbox.report import Status

log = logging.getLogger(__name__)

INSTRUCTORS = "Instructors"
# Holding this permission (through the group, or as a superuser) opens the instructor area.
TEACH_PERMISSION = "exercises.change_exercise"
INSTRUCTOR_PERMISSIONS = {
    "exercises": [
        "add_exercise",
        "change_exercise",
        "view_exercise",
        "add_exerciseversion",
        "change_exerciseversion",
        "view_exerciseversion",
        "view_submission",
        "view_hintuse",
    ],
    "lessons": ["change_question", "view_question", "view_quizanswer"],
}


class PublishRefused(Exception):
    """Publishing was refused; the message is written for the instructor."""


# -- the instructor role ---------------------------------------------------------


def instructors_group() -> Group:
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS)
    wanted = Q()
    for app_label, codenames in INSTRUCTOR_PERMISSIONS.items():
        wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
    group.permissions.add(*Permission.objects.filter(wanted))
    return group


def make_instructor(user) -> None:
    user.groups.add(instructors_group())


def remove_instructor(user) -> None:
    user.groups.remove(instructors_group())


def is_instructor(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(TEACH_PERMISSION))


# -- drafts and versions -----------------------------------------------------------


def spec_for(exercise: Exercise, version: ExerciseVersion) -> ExerciseSpec:
    return ExerciseSpec(
        slug=exercise.slug,
        title=exercise.title,
        module=exercise.module,
        order=exercise.order,
        summary=exercise.summary,
        scenario=version.scenario,
        statement=version.statement,
        starter=version.starter,
        solution=version.solution,
        hints=list(version.hints),
        reveal_after=version.reveal_after,
        random_schedules=version.random_schedules,
        limits=dict(version.limits or {}),
        variants={name: dict(v) for name, v in (version.variants or {}).items()},
    )


@transaction.atomic
def save_draft(
    spec: ExerciseSpec, user, exercise: Exercise | None = None
) -> tuple[Exercise, ExerciseVersion, bool]:
    """Save the exercise's details, and a new version if the content changed.

    Returns (exercise, its latest version, whether that version is new)."""
    if exercise is None:
        exercise = Exercise.objects.create(
            slug=spec.slug,
            title=spec.title,
            module=spec.module,
            order=spec.order,
            summary=spec.summary,
        )
    else:
        exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
        exercise.title, exercise.module, exercise.order, exercise.summary = (
            spec.title,
            spec.module,
            spec.order,
            spec.summary,
        )
        exercise.save(update_fields=["title", "module", "order", "summary"])
    digest = spec.content_hash()
    latest = exercise.latest_version()
    if latest is not None and latest.content_hash == digest:
        return exercise, latest, False
    version = ExerciseVersion.objects.create(
        exercise=exercise,
        number=(latest.number + 1) if latest else 1,
        scenario=spec.scenario,
        statement=spec.statement,
        statement_html=render_markdown(spec.statement),
        starter=spec.starter,
        solution=spec.solution,
        variants=spec.variants,
        hints=spec.hints,
        limits=spec.limits,
        reveal_after=spec.reveal_after,
        random_schedules=spec.random_schedules,
        content_hash=digest,
        created_by=user,
    )
    log.info(
        "exercise %s: version %d saved by %s",
        exercise.slug,
        version.number,
        getattr(user, "pk", None),
    )
    return exercise, version, True


# -- validation ----------------------------------------------------------------------

FINISHED = ("passed", "failed")


def validation_checks(version: ExerciseVersion) -> list[dict]:
    """What must hold before a version is published: (label, source, expected outcome)."""
    checks = [
        {
            "label": "Reference solution",
            "kind": "reference",
            "source": version.solution,
            "expected": "pass",
        },
        {"label": "Starter code", "kind": "starter", "source": version.starter, "expected": "fail"},
    ]
    for name, variant in sorted((version.variants or {}).items()):
        checks.append(
            {
                "label": f"Variant {name}",
                "kind": "variant",
                "name": name,
                "source": variant["source"],
                "expected": variant["expected"],
            }
        )
    return checks


def judge(expected: str, result: Verdict) -> tuple[bool, str]:
    """Did one graded source behave as the check expects? (ok, why) with why written for the instructor."""
    status = result.get("status")
    broken = [v.get("name") for v in result.get("violations") or []]
    if status in (Status.ERROR, Status.TIMEOUT):
        return False, f"it could not be graded ({status}): {result.get('message') or 'no message'}"
    if expected == "pass":
        if status == Status.PASSED:
            return True, "passes every invariant"
        return False, f"it must pass, but it broke {', '.join(broken) or 'an invariant'}"
    if status == Status.PASSED:
        return False, "it must fail, but it passed every invariant the grader explored"
    if expected == "fail":
        return True, f"fails as it should ({', '.join(broken)})"
    if expected in broken:
        return True, f"breaks {expected} as it should"
    return False, f"it must break {expected}, but it broke {', '.join(broken) or 'nothing named'}"


def run_validation(version_id: int, token: str) -> str:
    """The task's body: idempotent by request token. Returns what happened (for logs and tests)."""
    version = ExerciseVersion.objects.filter(pk=version_id).select_related("exercise").first()
    if version is None:
        return "missing"
    state = version.validation or {}
    if state.get("request") != token:
        return "superseded"
    if state.get("status") in FINISHED:
        return "done"
    ExerciseVersion.objects.filter(pk=version_id, validation__request=token).update(
        validation={**state, "status": "running", "started_at": timezone.now().isoformat()}
    )
    try:
        outcome = validate(version)
    except SoftTimeLimitExceeded:
        log.error("validation of %s hit the task's soft time limit", version)
        outcome = {
            "status": "failed",
            "checks": [],
            "error": "Validation took longer than the task's time limit "
            "and was stopped. Lower random_schedules or the limits, then validate again.",
        }
    written = finish(version_id, token, {**state, **outcome})
    log.info(
        "exercise %s v%d: validation %s", version.exercise.slug, version.number, outcome["status"]
    )
    return outcome["status"] if written else "superseded"


def finish(version_id: int, token: str, state: dict) -> bool:
    """Store a finished validation, unless a newer request replaced this one."""
    state = {"finished_at": timezone.now().isoformat(), **state}
    return bool(
        ExerciseVersion.objects.filter(pk=version_id, validation__request=token).update(
            validation=state, validated_at=timezone.now() if state["status"] == "passed" else None
        )
    )


def validate(version: ExerciseVersion) -> dict:
    """Grade every check in the jail; the result is stored on the version as its validation."""
    results = []
    jailed = True
    for check in validation_checks(version):
        try:
            result = grade_code(version, check["source"])
        except Exception:
            log.exception("validation of %s crashed on %s", version, check["label"])
            result = error_result("the grader crashed (see the server log)")
        jailed = jailed and result.get("jailed") is not False
        ok, why = judge(check["expected"], result)
        example = result.get("counterexample")
        faults = len(example["schedule"]) if example else 0
        results.append(
            {
                "label": check["label"],
                "kind": check["kind"],
                "name": check.get("name", ""),
                "expected": check["expected"],
                "ok": ok,
                "why": why,
                "status": result.get("status"),
                "broken": [v.get("name") for v in result.get("violations") or []],
                "message": str(result.get("message") or "")[:2000],
                "schedules_explored": result.get("schedules_explored", 0),
                "faults": faults,
            }
        )
    return {
        "status": "passed" if all(r["ok"] for r in results) else "failed",
        "checks": results,
        "jailed": jailed,
        "random_schedules": grading_options(version)["random_schedules"],
        "seed": settings.SANDBOX_SEED,
        "finished_at": timezone.now().isoformat(),
        "content_hash": version.content_hash,
    }


def validation_passed(version: ExerciseVersion) -> bool:
    state = version.validation or {}
    return (
        state.get("status") == "passed"
        and state.get("content_hash") == version.content_hash
        and version.validated_at is not None
    )


def publish(version: ExerciseVersion) -> Exercise:
    exercise = version.exercise
    if not validation_passed(version):
        status = (version.validation or {}).get("status")
        reason = {
            None: "it has not been validated yet",
            "queued": "its validation is still queued",
            "running": "its validation is still running",
            "failed": "its validation failed",
        }.get(status, "it has not passed validation")
        raise PublishRefused(
            f"Version {version.number} cannot be published: {reason}. Publishing needs the "
            "reference to pass, the starter to fail and every variant to break its invariant, "
            "in the sandbox, for this exact version."
        )
    Exercise.objects.filter(pk=exercise.pk).update(published_version=version)
    exercise.published_version = version
    log.info("exercise %s: version %d published", exercise.slug, version.number)
    return exercise


# -- export -----------------------------------------------------------------------------


def export_files(exercise: Exercise, version: ExerciseVersion) -> dict[str, str]:
    """The files of exercises/content/<slug>/ for one version, by relative path."""
    meta = {
        "title": exercise.title,
        "module": exercise.module,
        "order": exercise.order,
        "scenario": version.scenario,
        "summary": exercise.summary,
        "reveal_after": version.reveal_after,
        "random_schedules": version.random_schedules,
        "hints": list(version.hints),
    }
    # The card's facts live on the exercise, not the version; an export that dropped them would
    # make the next load_content blank the card.
    if exercise.difficulty:
        meta["difficulty"] = exercise.difficulty
    if exercise.minutes is not None:
        meta["minutes"] = exercise.minutes
    if version.limits:
        meta["limits"] = dict(version.limits)
    if version.variants:
        meta["variants"] = {name: v["expected"] for name, v in sorted(version.variants.items())}
    files = {
        "exercise.yaml": _yaml(meta),
        "statement.md": version.statement,
        "starter.py": version.starter,
        "solution.py": version.solution,
    }
    files.update(
        {f"variants/{name}.py": v["source"] for name, v in sorted(version.variants.items())}
    )
    return files


def write_files(files: dict[str, str], target: Path) -> None:
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        # newline="" writes the text as stored: the loader reads it back byte for byte.
        with open(target / name, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


# -- analytics ----------------------------------------------------------------------------


def exercise_stats(exercise: Exercise) -> dict:
    graded = Submission.objects.filter(exercise=exercise).exclude(status__in=Submission.IN_FLIGHT)
    rows = list(graded.order_by("created_at").values_list("user_id", "status"))
    per_learner: dict[int, list[str]] = {}
    for user_id, status in rows:
        per_learner.setdefault(user_id, []).append(status)
    to_pass = [
        statuses.index(Submission.PASSED) + 1
        for statuses in per_learner.values()
        if Submission.PASSED in statuses
    ]
    broken: Counter = Counter()
    titles: dict[str, str] = {}
    for violations in graded.filter(status=Submission.FAILED).values_list(
        "result__violations", flat=True
    ):
        names = set()
        for violation in violations if isinstance(violations, list) else []:
            if isinstance(violation, dict) and violation.get("name"):
                names.add(violation["name"])
                titles.setdefault(violation["name"], violation.get("title") or violation["name"])
        broken.update(names)
    hints = dict(HintUse.objects.filter(exercise=exercise).values_list("user_id", "revealed"))
    hint_users = {user for user, revealed in hints.items() if revealed}
    passed_learners = {
        user for user, statuses in per_learner.items() if Submission.PASSED in statuses
    }
    tried = set(per_learner)
    by_version = (
        graded.values("version__number")
        .order_by("version__number")
        .annotate(attempts=Count("pk"), passed=Count("pk", filter=Q(status=Submission.PASSED)))
    )
    return {
        "attempts": len(rows),
        "passed_attempts": sum(1 for _, status in rows if status == Submission.PASSED),
        "errors": sum(1 for _, status in rows if status == Submission.ERROR),
        "learners": len(tried),
        "learners_passed": len(passed_learners),
        "pass_rate": _rate(len(passed_learners), len(tried)),
        "median_attempts_to_pass": _whole(statistics.median(to_pass)) if to_pass else None,
        "broken": [
            {"name": name, "title": titles[name], "count": count, "share": _rate(count, len(rows))}
            for name, count in broken.most_common()
        ],
        "hint_learners": len(hint_users),
        "hints_revealed": Counter(revealed for revealed in hints.values() if revealed),
        "hint_pass_rate": _rate(len(hint_users & passed_learners), len(hint_users & tried)),
        "no_hint_pass_rate": _rate(len(passed_learners - hint_users), len(tried - hint_users)),
        "by_version": list(by_version),
    }


# Questions with at least this many answers and at most this share right are flagged.
CONFUSING_MIN_ANSWERS = 5
CONFUSING_RIGHT_RATE = 50


def question_stats():
    """Every question with its answers count, right count and mean score, hardest first."""
    questions = list(
        Question.objects.select_related("lesson").annotate(
            answers=Count("quizanswer"),
            right=Count("quizanswer", filter=Q(quizanswer__score__gte=1)),
            mean_score=Avg("quizanswer__score"),
        )
    )
    for question in questions:
        question.right_rate = _rate(question.right, question.answers)
        question.confusing = (
            question.answers >= CONFUSING_MIN_ANSWERS
            and question.right_rate is not None
            and question.right_rate <= CONFUSING_RIGHT_RATE
        )
    return sorted(
        questions, key=lambda q: (q.right_rate is None, q.right_rate or 0, -q.answers, q.key)
    )


def _whole(number: float) -> float | int:
    return int(number) if float(number).is_integer() else number


def _rate(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


# -- Quick Test questions -----------------------------------------------------------------


def question_raw(question) -> dict:
    """A question in the YAML form of quicktest/questions/<topic>.yaml."""
    raw = {
        "id": question.key,
        "type": question.type,
        "topic": question.topic,
        "lesson": f"{question.lesson.slug}#{question.anchor}" if question.lesson else "",
        "prompt": question.prompt,
    }
    if question.code:
        raw["code"] = question.code + "\n"
    if question.choices:
        raw["choices"] = list(question.choices)
    if question.items:
        raw["items"] = list(question.items)
    if question.answer is not None:
        raw["answer"] = question.answer
    raw["explanation"] = question.explanation
    return raw


def check_question(raw: dict) -> dict:
    """Validate like the loader does; returns the model fields, or raises ContentError."""
    lessons = {lesson.slug: lesson for lesson in Lesson.objects.all()}
    return validate_question(Path(f"{raw.get('topic')}.yaml"), 1, raw, lessons)


def update_question(question, row: dict):
    """Save fields that check_question returned."""
    for name, value in row.items():
        setattr(question, name, value)
    question.save()
    return question


def question_yaml(raw: dict) -> str:
    return _yaml([raw])


class _ContentDumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, the way the content files are written by hand."""


_ContentDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _yaml(data) -> str:
    return yaml.dump(data, Dumper=_ContentDumper, sort_keys=False, allow_unicode=True, width=100)
