"""The grading workflow, which spans the models and the sandbox.

- A submission and its GradingRequest (the outbox row) are written in one
  transaction; after commit the request is relayed to Celery.
- The task is idempotent by submission id: it claims the submission with a
  guarded UPDATE, grades it in the jail, and writes the verdict with another
  guarded UPDATE, so a second delivery changes nothing. A delivery that finds
  the claim held by a process that died on this host takes it over at once;
  otherwise a claim expires after the task's hard time limit.
- The sweeper re-relays requests that were never sent, sent long ago and still
  queued, or whose grading outlived any possible worker.

The site, the `grade` command and the tests all grade through `grade_code`,
so they use the same jail, limits and exploration.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import NotRequired, cast

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from courseapp.lib.correlation import correlation_id
from exercises import dispatch, fair_share
from exercises.models import GradingRequest, Submission
from sandbox.isolated import grade_isolated
from sandbox.jail import jail_available
from sandbox.report import Counterexample, Report, Status, new_report
from sandbox.runner import Limits, clamp_limits

log = logging.getLogger(__name__)

# Deliveries this process is running right now, by submission (any thread): a claim made by this
# process that none of them holds was left by an attempt that ended without a verdict.
_here: Counter[str] = Counter()
_here_lock = threading.Lock()

MAX_CODE_BYTES = 64 * 1024
SUBMISSIONS_PER_MINUTE = 6
# A submission whose gradings killed the grader this many times is retired, never delivered again.
MAX_CRASHED_DELIVERIES = 3
# Sent this many times and never picked up: stop re-sending (the sweeper gives up with an error).
MAX_DISPATCHES = 12
STORED_OUTPUT_CHARS = 16 * 1024
STORED_TRACE_STEPS = 1500
# An undispatched request younger than this may still be waiting for its on_commit relay.
UNDISPATCHED_GRACE = timedelta(seconds=30)

# A grading's status (the simulator's) -> the submission's status (the site's).
_FINAL = {
    Status.PASSED: Submission.PASSED,
    Status.FAILED: Submission.FAILED,
    Status.TIMEOUT: Submission.FAILED,
    Status.ERROR: Submission.ERROR,
}


class StoredCounterexample(Counterexample):
    """A counterexample as stored: a very long trace is cut, saying how many steps were dropped."""

    trace_dropped: NotRequired[int]


class Verdict(Report):
    """What a submission stores as its result: the simulator's report, cut to size, plus where it
    ran. Templates, the timeline, the dashboard and the instructor area read these keys."""

    jailed: bool | None  # None: nothing ran (the jail was missing and unjailed grading is off)
    jail_reason: NotRequired[str]


class SubmissionRefused(Exception):
    """A submission the site will not accept; the message is written for the learner."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


# -- accepting code -------------------------------------------------------------


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SubmissionRefused(
            f"The uploaded file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
            f"{line}). Save it as UTF-8 and upload it again, or paste the code "
            "into the editor."
        ) from None


def check_code(code: str) -> str:
    code = code.replace("\r\n", "\n")
    if not code.strip():
        raise SubmissionRefused(
            "Your code is empty: write your solution in the editor (or upload a .py file) "
            "and submit again."
        )
    size = len(code.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CODE_BYTES:
        raise SubmissionRefused(
            f"Your code is {size / 1024:.1f} KiB; the limit is {MAX_CODE_BYTES // 1024} KiB. "
            "Trim it and submit again.",
            status=413,
        )
    if "\x00" in code:
        raise SubmissionRefused("Your code contains a NUL character; remove it and submit again.")
    return code


def submit(
    user, exercise, code: str, client_token: str, cid: str = "", client_address: str | None = None
) -> tuple[Submission, bool]:
    """Create the submission and its grading request; returns (submission, created).

    The same client token returns the existing submission (a replayed POST). Fair share
    (exercises/fair_share.py): a verified e-mail where required, a bounded number of gradings in
    flight per client address, and a heavy recent share queues in the low lane."""
    client_token = (client_token or "")[:64]
    if not client_token:
        raise SubmissionRefused("The form was missing its token; reload the page and submit again.")
    existing = Submission.objects.filter(user=user, client_token=client_token).first()
    if existing:
        return existing, False
    code = check_code(code)
    if fair_share.needs_verified_email(user):
        raise SubmissionRefused(
            "Confirm your e-mail address before submitting code: open the link we e-mailed "
            "you (or send it again from your account's e-mail page). Your code is still in "
            "the editor.",
            status=403,
        )
    recent = Submission.objects.filter(
        user=user, created_at__gte=timezone.now() - timedelta(minutes=1)
    ).count()
    if recent >= SUBMISSIONS_PER_MINUTE:
        raise SubmissionRefused(
            f"You have submitted {recent} times in the last minute (the limit is "
            f"{SUBMISSIONS_PER_MINUTE}). Wait a moment and submit again; your code is "
            "still in the editor.",
            status=429,
        )
    per_address = settings.GRADING_IN_FLIGHT_PER_ADDRESS
    if client_address and fair_share.in_flight_from(client_address) >= per_address:
        raise SubmissionRefused(
            f"{per_address} submissions from your network are already waiting for a grader "
            "(the limit per address keeps the graders fair for everyone). Submit again in a "
            "moment; your code is still in the editor.",
            status=429,
        )
    lane = fair_share.lane_for(user, client_address)
    version = exercise.published_version
    try:
        with transaction.atomic():
            submission = Submission.objects.create(
                user=user,
                exercise=exercise,
                version=version,
                code=code,
                client_token=client_token,
                correlation_id=cid[:64],
                client_address=client_address or None,
                lane=lane,
            )
            grading = GradingRequest.objects.create(submission=submission)
            # The low lane waits in the database until a low-lane slot is free.
            transaction.on_commit(
                functools.partial(
                    fair_share.relay_low if lane == fair_share.LOW else dispatch.send_grading,
                    grading.pk,
                )
            )
    except IntegrityError:
        existing = Submission.objects.filter(user=user, client_token=client_token).first()
        if existing:
            return existing, False
        in_flight = (
            Submission.objects.in_flight().filter(user=user).select_related("exercise").first()
        )
        if in_flight:
            raise SubmissionRefused(
                f"Your previous submission (to “{in_flight.exercise.title}”) is still being graded. It keeps "
                "going; submit this code again once it has a verdict. Your code is still in the editor.",
                status=409,
            ) from None
        # The one in flight got its verdict between our insert and this look: a race, not a bug.
        raise SubmissionRefused(
            "Your previous submission got its verdict at this very moment; submit this code "
            "again. It is still in the editor.",
            status=409,
        ) from None
    log.info("submission %s queued for %s (%s lane)", submission.pk, exercise.slug, lane)
    return submission, True


def running_deadline() -> timedelta:
    """No worker can still be grading after this: the hard time limit has killed it."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def redispatch_after() -> timedelta:
    return timedelta(seconds=settings.EXERCISES_REDISPATCH_AFTER)


def stuck_submissions():
    now = timezone.now()
    # A low-lane submission waiting for its slot is not stuck: fair_share.release_low_lane sends it.
    never_sent = Q(
        status=Submission.QUEUED,
        grading_request__dispatched_at__isnull=True,
        created_at__lt=now - UNDISPATCHED_GRACE,
    ) & ~Q(lane="low")
    sent_long_ago = Q(
        status=Submission.QUEUED, grading_request__dispatched_at__lt=now - redispatch_after()
    )
    no_request = Q(
        status=Submission.QUEUED,
        grading_request__isnull=True,
        created_at__lt=now - UNDISPATCHED_GRACE,
    )
    overdue = Q(status=Submission.RUNNING, started_at__lt=now - running_deadline())
    return Submission.objects.filter(never_sent | sent_long_ago | no_request | overdue)


# -- the task's body ---------------------------------------------------------------


def claimant() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(submission_id) -> int:
    """Mark the submission running for this delivery; 0 rows means someone else has it, or it is done.
    An overdue claim is taken over only while the submission has crashed fewer than
    MAX_CRASHED_DELIVERIES deliveries; past that run_grading retires it."""
    now = timezone.now()
    claimable = Q(status=Submission.QUEUED) | Q(
        status=Submission.RUNNING,
        started_at__lt=now - running_deadline(),
        deliveries__lt=MAX_CRASHED_DELIVERIES,
    )
    return (
        Submission.objects.filter(pk=submission_id)
        .filter(claimable)
        .update(
            status=Submission.RUNNING,
            deliveries=F("deliveries") + 1,
            started_at=now,
            claimed_by=claimant(),
        )
    )


def claim_lost(submission, *, another_here: bool = True) -> bool:
    """The running claim can no longer finish: its claimant died on this host, or it is past any
    deadline, or it is this process's and no delivery here holds it any more (``another_here``
    False: an attempt that met a database outage and is retried left it; without this its retry
    would wait for the deadline)."""
    if submission.started_at and submission.started_at < timezone.now() - running_deadline():
        return True
    if submission.claimed_by == claimant():
        return not another_here
    host, _, pid = submission.claimed_by.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


@contextmanager
def _delivery_here(submission_id) -> Iterator[bool]:
    """Count this delivery as running in this process; yields whether another one already was."""
    key = str(submission_id)
    with _here_lock:
        another = _here[key] > 0
        _here[key] += 1
    try:
        yield another
    finally:
        with _here_lock:
            _here[key] -= 1
            if _here[key] <= 0:
                del _here[key]


def take_over(submission: Submission, *, another_here: bool = True) -> int:
    """Claim a running submission whose claimant died on this host (a killed worker process: its task
    was redelivered). Compare-and-set on the old claim, so only one delivery can win. Every delivery
    that died mid-grading counts; after MAX_CRASHED_DELIVERIES the submission is retired instead
    (see run_grading), so a poison submission cannot hold a worker for good."""
    if (
        not claim_lost(submission, another_here=another_here)
        or submission.deliveries >= MAX_CRASHED_DELIVERIES
    ):
        return 0
    log.warning(
        "submission %s was claimed by %s, which is gone; taking it over (delivery %d of at most %d)",
        submission.pk,
        submission.claimed_by,
        submission.deliveries + 1,
        MAX_CRASHED_DELIVERIES,
    )
    return Submission.objects.filter(
        pk=submission.pk,
        status=Submission.RUNNING,
        claimed_by=submission.claimed_by,
        started_at=submission.started_at,
    ).update(deliveries=F("deliveries") + 1, started_at=timezone.now(), claimed_by=claimant())


POISON_MESSAGE = (
    "Your code was not judged: grading this submission crashed the grader {n} times; it was stopped "
    "so that it cannot block the graders for everyone. This usually means the code made the grader "
    "use too much memory or time (for example a huge or endless data structure). Look for that, "
    "then submit again."
)


def retire(submission: Submission) -> bool:
    """End a poison submission (its gradings died MAX_CRASHED_DELIVERIES times) as an error, once.
    Compare-and-set on the dead claim, so a racing delivery cannot also write."""
    crashed = submission.deliveries
    result = {
        **error_result(POISON_MESSAGE.format(n=crashed)),
        "retired": True,
        "crashed_deliveries": crashed,
    }
    written = Submission.objects.filter(
        pk=submission.pk,
        status=Submission.RUNNING,
        claimed_by=submission.claimed_by,
        started_at=submission.started_at,
    ).update(status=Submission.ERROR, result=result, finished_at=timezone.now(), retired=True)
    if written:
        log.error(
            "submission %s retired: grading it crashed the grader %d times (last claim %s) cid=%s",
            submission.pk,
            crashed,
            submission.claimed_by or "-",
            submission.correlation_id or "-",
        )
    return bool(written)


def retire_undeliverable(submission: Submission) -> bool:
    result = error_result(
        f"Your code was not judged: it was sent to the graders {MAX_DISPATCHES} times and no "
        "grader picked it up. This is our problem, not yours; submit it again later."
    )
    written = Submission.objects.filter(pk=submission.pk, status=Submission.QUEUED).update(
        status=Submission.ERROR, result=result, finished_at=timezone.now()
    )
    if written:
        log.error(
            "submission %s was never picked up after %d dispatches; given up cid=%s",
            submission.pk,
            MAX_DISPATCHES,
            submission.correlation_id or "-",
        )
    return bool(written)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) holds no claim either.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def record_verdict(submission_id, result: Verdict) -> bool:
    """Write the verdict once: only a submission still running can receive one."""
    status = _FINAL.get(result.get("status"), Submission.ERROR)
    written = Submission.objects.filter(pk=submission_id, status=Submission.RUNNING).update(
        status=status, result=result, finished_at=timezone.now()
    )
    return bool(written)


def _record_verdict_despite_outages(submission_id, result: Verdict) -> bool:
    """A verdict is worth a few retries: the database restarting under a finished grading would
    otherwise leave the submission running until its claim expires, and grade it again."""
    delay = 0.5
    for attempt in range(6):
        try:
            return record_verdict(submission_id, result)
        except (OperationalError, InterfaceError):
            if attempt == 5:
                raise
            log.warning(
                "database unavailable while recording the verdict of %s; retrying in %.1f s",
                submission_id,
                delay,
            )
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
    return False


# What a delivery that did not claim the submission reads again to decide what to do.
_CLAIM_FIELDS = ["status", "deliveries", "claimed_by", "started_at", "finished_at", "result"]


def run_grading(submission_id) -> str:
    """Grade one submission, at most once. Returns what happened (for logs and tests)."""
    with _delivery_here(submission_id) as another_here:
        return _run_grading(submission_id, another_here)


def _run_grading(submission_id, another_here: bool) -> str:
    # Read before claiming, and nothing read between the claim and the verdict: a database outage
    # that makes this delivery fail (Celery retries it, maybe in another process) then finds
    # nothing claimed, instead of a claim held until its deadline.
    submission = (
        Submission.objects.select_related("version", "exercise").filter(pk=submission_id).first()
    )
    if submission is None:
        log.warning("grading: submission %s does not exist", submission_id)
        return "missing"
    claimed = claim(submission_id)
    if claimed:
        submission.status, submission.deliveries = Submission.RUNNING, submission.deliveries + 1
    else:
        submission.refresh_from_db(fields=_CLAIM_FIELDS)
    if not claimed and submission.status == Submission.RUNNING:
        if submission.deliveries >= MAX_CRASHED_DELIVERIES and claim_lost(
            submission, another_here=another_here
        ):
            return "retired" if retire(submission) else "done"
        claimed = take_over(submission, another_here=another_here)
        if claimed:
            submission.deliveries += 1
    if not claimed:
        return "done" if submission.is_done else "busy"
    cid = submission.correlation_id or str(submission.pk)[:16]
    token = correlation_id.set(cid)
    try:
        # The id is in the message too: Celery's own log format does not show the filter's field.
        log.info(
            "grading submission %s for %s (delivery %d) cid=%s",
            submission.pk,
            submission.exercise.slug,
            submission.deliveries,
            cid,
        )
        try:
            result = grade_code(submission.version, submission.code)
        except SoftTimeLimitExceeded:
            log.error("grading submission %s hit the task's soft time limit", submission.pk)
            result = error_result(
                f"Grading took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds and "
                "was stopped. Nothing was decided about your code; submit it again later."
            )
        except Exception:
            log.exception("grading submission %s crashed", submission.pk)
            result = error_result(
                "The grader failed unexpectedly while running your code. This is our bug, "
                "not yours; please submit again in a moment."
            )
        written = _record_verdict_despite_outages(submission.pk, result)
        log.info(
            "submission %s: %s%s cid=%s",
            submission.pk,
            result.get("status"),
            "" if written else " (already graded)",
            cid,
        )
        return result["status"] if written else "done"
    finally:
        correlation_id.reset(token)


# -- grading through the sandbox ----------------------------------------------------


def grading_options(version) -> dict:
    """The exploration used everywhere (site, command, tests): capped by settings.SANDBOX_RANDOM_SCHEDULES."""
    return {
        "seed": settings.SANDBOX_SEED,
        "random_schedules": min(version.random_schedules, settings.SANDBOX_RANDOM_SCHEDULES),
        "limits": limits_for(version.limits),
    }


def limits_for(overrides: dict | None):
    fields = Limits.__dataclass_fields__
    return clamp_limits(Limits(**{k: v for k, v in (overrides or {}).items() if k in fields}))


def jail_status() -> tuple[bool, str]:
    return jail_available()


def grade_code(version, source: str, *, schedule: Counterexample | None = None) -> Verdict:
    """Grade `source` against an exercise version in the jail; `schedule` replays one counterexample."""
    jailed, reason = jail_status()
    if not jailed and not settings.SANDBOX_ALLOW_UNJAILED:
        log.error("refusing to grade: the jail is unavailable (%s)", reason)
        return error_result(
            "Submissions cannot be graded on this server right now: the sandbox that runs "
            f"learner code is not available ({reason}). Nothing was run; your submission is "
            "kept and can be submitted again later.",
            jailed=False,
        )
    if not jailed:
        log.warning("GRADING UNJAILED (SANDBOX_ALLOW_UNJAILED is on): %s", reason)

    options = grading_options(version)
    if schedule is not None:
        options.update(seed=int(schedule["seed"]), schedule=list(schedule.get("schedule") or []))
    # In a bounded child process (memory, CPU), in every mode: a submission can end its own grading,
    # never the worker or the web server that asked for it.
    result = grade_isolated(
        version.scenario,
        source,
        allow_unjailed=settings.SANDBOX_ALLOW_UNJAILED,
        jail_known_good=jailed,
        wall_seconds=max(30, settings.CELERY_TASK_SOFT_TIME_LIMIT - 20),
        **options,
    )
    return clean_result(result, jailed=jailed, jail_reason="" if jailed else reason)


def error_result(message: str, *, jailed: bool | None = None) -> Verdict:
    return {**new_report(Status.ERROR, message, seed=None), "jailed": jailed}


def clean_result(result: Report | None, *, jailed: bool, jail_reason: str = "") -> Verdict:
    """Keep the stored verdict small and well-formed."""
    out: Verdict = {**error_result(""), **(result or {})}  # type: ignore[typeddict-item]
    if out["status"] not in _FINAL:
        out["status"] = Status.ERROR
    output = str(out.get("output") or "")
    if len(output) > STORED_OUTPUT_CHARS:
        out["output_dropped"] = (
            int(out.get("output_dropped") or 0) + len(output.encode()) - STORED_OUTPUT_CHARS
        )
        out["output"] = output[:STORED_OUTPUT_CHARS]
    example = cast(StoredCounterexample | None, out.get("counterexample"))
    if example and len(example.get("trace") or []) > STORED_TRACE_STEPS:
        example["trace_dropped"] = len(example["trace"]) - STORED_TRACE_STEPS
        example["trace"] = example["trace"][:STORED_TRACE_STEPS]
    out["jailed"] = jailed
    out["jail_reason"] = jail_reason
    return out
