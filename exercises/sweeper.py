"""The sweeper: what beat runs every minute to keep gradings moving after crashes and outages."""

from __future__ import annotations

import logging
import socket

from exercises import dispatch, fair_share, grading, replays
from exercises.models import GradingRequest, Submission

log = logging.getLogger(__name__)


def sweep(dry_run: bool = False) -> list[Submission]:
    """Re-relay what is stuck, retire what crashed the grader too often or was never picked up, release
    the low lane, and re-send lost replays."""
    stuck = list(grading.stuck_submissions().select_related("grading_request"))
    # Running on this host for a process that is gone (a restarted server or a killed worker): no need to
    # wait for the deadline.
    here = (
        Submission.objects.filter(
            status=Submission.RUNNING, claimed_by__startswith=f"{socket.gethostname()}:"
        )
        .exclude(pk__in=[s.pk for s in stuck])
        .select_related("grading_request")[:200]
    )
    stuck += [submission for submission in here if grading.claim_lost(submission)]
    for submission in stuck:
        poisoned = (
            submission.status == Submission.RUNNING
            and submission.deliveries >= grading.MAX_CRASHED_DELIVERIES
        )
        request = getattr(submission, "grading_request", None)
        undeliverable = request is not None and request.dispatch_count >= grading.MAX_DISPATCHES
        if poisoned or undeliverable:
            log.error(
                "sweeper: submission %s %s; retiring it cid=%s",
                submission.pk,
                "crashed the grader" if poisoned else "was never picked up by a grader",
                submission.correlation_id or "-",
            )
            if not dry_run:
                (
                    grading.retire(submission)
                    if poisoned
                    else grading.retire_undeliverable(submission)
                )
            continue
        log.warning(
            "sweeper: submission %s is %s since %s; relaying it again",
            submission.pk,
            submission.status,
            submission.started_at or submission.created_at,
        )
        if not dry_run:
            request, _ = GradingRequest.objects.get_or_create(submission=submission)
            (fair_share.relay_low if submission.lane == fair_share.LOW else dispatch.send_grading)(
                request.pk
            )
    if not dry_run:
        fair_share.release_low_lane()
        replays.sweep_replays()
    return stuck
