"""Runs inside the bench site's environment: submits reference solutions as
several learners (one in flight each, as the site allows) and waits for every
verdict. Prints one JSON line of measurements."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from bench.grading import phases  # noqa: E402
from exercises.grading import submit  # noqa: E402
from exercises.models import Exercise, Submission  # noqa: E402


def main(per_exercise: int, learners: int, slugs: list[str]) -> None:
    work = [(slug, n) for slug in slugs for n in range(per_exercise)]
    # A fresh account per submission keeps clear of the per-learner rate limit;
    # `learners` bounds how many are in flight at once.
    tag = uuid.uuid4().hex[:6]  # several runs may share one database (the worker-count rows)
    accounts = iter(
        [
            get_user_model().objects.create_user(
                f"bench{tag}{n}", f"bench{tag}{n}@example.com", "x"
            )
            for n in range(len(work))
        ]
    )
    exercises = {slug: Exercise.objects.get(slug=slug) for slug in slugs}
    pending: dict[
        int, tuple[str, str, float, float, float]
    ] = {}  # learner index -> (slug, submission id, submitted at, wall clock before and after submit)
    by_exercise = {slug: {"latencies": [], "schedules": [], "phases": []} for slug in slugs}
    started = time.perf_counter()
    deadline = started + 1500
    done = 0
    while (work or pending) and time.perf_counter() < deadline:
        for index in range(learners):
            if index not in pending and work:
                user = next(accounts)
                slug, _ = work.pop(0)
                version = exercises[slug].published_version
                called, submitted = time.time(), time.perf_counter()
                submission, _ = submit(user, exercises[slug], version.solution, uuid.uuid4().hex)
                pending[index] = (slug, str(submission.pk), submitted, called, time.time())
        time.sleep(0.02)
        for index, (slug, pk, submitted, called, returned) in list(pending.items()):
            row = (
                Submission.objects.filter(pk=pk)
                .values("status", "result", "started_at", "finished_at")
                .get()
            )
            if row["status"] in ("queued", "running"):
                continue
            by_exercise[slug]["latencies"].append(time.perf_counter() - submitted)
            by_exercise[slug]["phases"].append(phases(row, called, returned, time.time()))
            by_exercise[slug]["schedules"].append(
                (row["result"] or {}).get("schedules_explored", 0)
            )
            if row["status"] != "passed":
                print(
                    f"  unexpected verdict {row['status']} for {slug}: {(row['result'] or {}).get('message')}",
                    file=sys.stderr,
                )
            del pending[index]
            done += 1
            print(f"  {done} graded", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    lost = Submission.objects.filter(status__in=["queued", "running"]).count()
    print(
        json.dumps({"by_exercise": by_exercise, "gradings": done, "seconds": seconds, "lost": lost})
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
