"""Run before you submit: the code in the editor, once, on one schedule, in the same jail.

A run is not a submission: no row is written, nothing counts towards progress or history. It is
graded by the same `grading.grade_code` as a submission (the bounded child process, the jail, the
exercise's limits), but on exactly one schedule: a calm one (no faults) or a seed and fault schedule
the learner chose, such as a failed verdict's counterexample ("Replay this schedule").

- Never in a web request: the run is sent to a worker on the `short` queue (in the embedded mode, to
  the background threads) and its panel polls with htmx, or the page refreshes itself without
  JavaScript.
- Its state and result live in the cache (`CACHE_URL`, shared by web and workers), keyed by a
  random id, for RUN_TTL seconds. Only the visitor who started a run can read it: its id is kept
  in their session (which survives signing up and logging in).
- The task is acknowledged on receipt: a run lost with its worker is not retried (it is cheap to
  run again); its panel says so once it is overdue.
- Rate limited apart from submissions (settings.RUN_RATE_LIMIT, per account or anonymous visitor
  and per client address), one run in flight per visitor and settings.RUN_IN_FLIGHT_PER_ADDRESS per
  address.
- Anyone may run code, signed in or not. An anonymous visitor's code is kept in the session
  (`remember_draft`) and is back in the editor after signing up or logging in.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from courseapp.lib.correlation import correlation_id
from courseapp.lib.timeline import annotate, fault_text, timeline_svg
from exercises import fair_share, grading
from exercises.models import Exercise, ExerciseVersion
from sandbox import scenarios
from sandbox.report import Counterexample, Fault

log = logging.getLogger(__name__)

RUN_TASK = "exercises.tasks.run_code"
# How long a run's state and result are kept (and can be shown) after it was started.
RUN_TTL = 30 * 60
# Seeds are those of the grader's schedules: 0 to 2**31 - 1.
MAX_SEED = 2**31 - 1
MAX_FAULTS = 20
MAX_FAULTS_CHARS = 8 * 1024
MAX_SITE_CHARS = 200
MAX_CRASH_AT = 10_000
# Runs kept in a session (the ones its visitor may read back).
SESSION_RUNS = "exercise_runs"
SESSION_RUNS_KEPT = 10
# Code typed into an exercise and run (or submitted anonymously), per exercise slug.
SESSION_DRAFTS = "exercise_drafts"
SESSION_DRAFTS_KEPT = 3
SESSION_VISITOR = "run_visitor"

QUEUED, RUNNING, DONE, LOST = "queued", "running", "done", "lost"


class RunRefused(Exception):
    """A run the site will not start; the message is written for the learner."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


# -- the rate limit ---------------------------------------------------------------------------

_RATE = re.compile(r"^(\d+)/(\d*)([smhd])/(user|ip)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class Rate:
    amount: int
    seconds: int
    key: str  # "user": the account, or an anonymous visitor's session; "ip": the client address
    period: str  # in words: "a minute", "10 minutes"

    def describe(self) -> str:
        who = "per account or visitor" if self.key == "user" else "per network address"
        runs = f"{self.amount} run{'' if self.amount == 1 else 's'}"
        if " " in self.period:
            return f"{runs} every {self.period} {who}"
        return f"{runs} {'an' if self.period == 'hour' else 'a'} {self.period} {who}"


def parse_rates(text: str) -> list[Rate]:
    """allauth's rate syntax: comma-separated `amount/period/key`, e.g. `10/m/user,30/m/ip`."""
    rates = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        match = _RATE.match(part)
        if not match or int(match.group(1)) < 1:
            raise ImproperlyConfigured(
                f"RUN_RATE_LIMIT: {part!r} is not a rate like 10/m/user or 30/5m/ip "
                "(amount / period in s, m, h or d, optionally with a number / user or ip)"
            )
        count = int(match.group(2) or 1)
        unit = match.group(3)
        word = _UNIT_WORDS[unit]
        period = word if count == 1 else f"{count} {word}s"
        rates.append(Rate(int(match.group(1)), count * _UNIT_SECONDS[unit], match.group(4), period))
    return rates


def visitor(request) -> str:
    """Who is running: the account, or an anonymous visitor's id kept in their session."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    vid = request.session.get(SESSION_VISITOR)
    if not vid:
        vid = request.session[SESSION_VISITOR] = uuid.uuid4().hex
    return f"visitor:{vid}"


def _consume(request, rates: list[Rate]) -> tuple[Rate, int] | None:
    """Count this run against every rate; the first rate it exceeds and the seconds until its
    window ends, or None."""
    now = int(time.time())
    address = fair_share.client_address(request) or "unknown"
    refused = None
    for index, rate in enumerate(rates):
        who = visitor(request) if rate.key == "user" else f"ip:{address}"
        window = now // rate.seconds
        key = f"exercises:runs:rate:{index}:{rate.seconds}:{who}:{window}"
        cache.add(key, 0, rate.seconds + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr: count this one only
            cache.set(key, 1, rate.seconds + 1)
            used = 1
        if used > rate.amount and refused is None:
            refused = (rate, max(1, (window + 1) * rate.seconds - now))
    return refused


# -- accepting code and a schedule --------------------------------------------------------------


def check_code(code: str) -> str:
    code = (code or "").replace("\r\n", "\n")
    if not code.strip():
        raise RunRefused("There is no code to run: write your solution in the editor, then run it.")
    size = len(code.encode("utf-8", errors="surrogatepass"))
    if size > grading.MAX_CODE_BYTES:
        raise RunRefused(
            f"Your code is {size / 1024:.1f} KiB; the limit is {grading.MAX_CODE_BYTES // 1024} KiB. "
            "Trim it and run it again; it is still in the editor.",
            status=413,
        )
    if "\x00" in code:
        raise RunRefused("Your code contains a NUL character; remove it and run it again.")
    return code


def default_seed() -> int:
    return settings.SANDBOX_SEED


def parse_seed(text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return default_seed()
    if not text.isdigit() or int(text) > MAX_SEED:
        raise RunRefused(
            f"The seed must be a whole number from 0 to {MAX_SEED}; it was {text[:40]!r}."
        )
    return int(text)


def parse_faults(text: str | None, version: ExerciseVersion) -> list[Fault]:
    """The fault schedule, as JSON: a list of faults like the counterexample's. Empty: no fault."""
    text = (text or "").strip()
    if not text:
        return []
    if len(text) > MAX_FAULTS_CHARS:
        raise RunRefused(
            f"The fault schedule is {len(text)} characters long; the limit is {MAX_FAULTS_CHARS}."
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunRefused(
            f"The fault schedule is not valid JSON ({exc.msg}, at character {exc.pos + 1}). "
            'Write a list of faults such as [{"kind": "duplicate", "site": "..."}], or leave it '
            "empty for a calm run."
        ) from None
    if isinstance(data, dict) and "schedule" in data:
        data = data["schedule"]  # a whole counterexample pasted: take its faults
    if not isinstance(data, list):
        raise RunRefused("The fault schedule must be a JSON list of faults (or empty).")
    if len(data) > MAX_FAULTS:
        raise RunRefused(
            f"The fault schedule has {len(data)} faults; at most {MAX_FAULTS} can run."
        )
    kinds = tuple(scenarios.get(version.scenario).fault_kinds)
    faults: list[Fault] = []
    for number, item in enumerate(data, 1):
        where = f"Fault {number} of the schedule"
        if not isinstance(item, dict):
            raise RunRefused(f"{where} must be an object with a kind and a site.")
        unknown = sorted(set(item) - {"kind", "site", "at"})
        if unknown:
            raise RunRefused(f"{where} has unknown fields: {', '.join(map(str, unknown))[:80]}.")
        kind, site = item.get("kind"), item.get("site")
        if kind not in kinds:
            allowed = ", ".join(kinds) or "none"
            raise RunRefused(
                f"{where}: {str(kind)[:40]!r} is not a fault this exercise can inject ({allowed})."
            )
        if not isinstance(site, str) or not site.strip() or len(site) > MAX_SITE_CHARS:
            raise RunRefused(f"{where} needs a site: text of 1 to {MAX_SITE_CHARS} characters.")
        fault: Fault = {"kind": kind, "site": site}
        if "at" in item:
            at = item["at"]
            if type(at) is not int or not 0 <= at <= MAX_CRASH_AT:
                raise RunRefused(f"{where}: at must be a whole number from 0 to {MAX_CRASH_AT}.")
            fault["at"] = at
        faults.append(fault)
    return faults


# -- starting, reading and executing a run ------------------------------------------------------


def _key(run_id: str) -> str:
    return f"exercises:run:{run_id}"


def _valid_id(run_id: Any) -> str | None:
    try:
        return str(uuid.UUID(str(run_id)))
    except ValueError:
        return None


def shared_cache() -> bool:
    """Workers on other machines can only hand a run back through a shared cache."""
    return not settings.CELERY_BROKER_URL or bool(settings.CACHE_URL)


def get(request, run_id: Any) -> dict | None:
    """The run, if this visitor started it and it is still kept; lost runs say so."""
    run_id = _valid_id(run_id)
    if run_id is None or run_id not in request.session.get(SESSION_RUNS, []):
        return None
    entry = cache.get(_key(run_id))
    if entry is None:
        return None
    return _with_lost(entry)


def _with_lost(entry: dict) -> dict:
    now = time.time()
    if entry["status"] == QUEUED and now - entry["created"] > settings.EXERCISES_REDISPATCH_AFTER:
        return {**entry, "status": LOST}
    deadline = grading.running_deadline().total_seconds()
    if entry["status"] == RUNNING and now - entry.get("started", now) > deadline:
        return {**entry, "status": LOST}
    return entry


def _in_flight(entry: dict | None) -> bool:
    return entry is not None and _with_lost(entry)["status"] in (QUEUED, RUNNING)


def start(request, exercise: Exercise, code: str, seed_text: str, faults_text: str) -> dict:
    """Check everything, then queue the run for a worker; returns the run (its first state).

    A visitor with a run still in flight gets that one back (with `reused` set) instead."""
    version = exercise.published_version
    # Views open only published exercises (an unpublished slug is a 404 before this).
    assert version is not None
    code = check_code(code)
    seed = parse_seed(seed_text)
    faults = parse_faults(faults_text, version)
    remember_draft(request, exercise, code)
    mine = request.session.get(SESSION_RUNS, [])
    previous: dict | None = cache.get(_key(mine[-1])) if mine else None
    if previous is not None and _in_flight(previous):
        return {**previous, "reused": True}
    if not shared_cache():
        log.error("run refused: CELERY_BROKER_URL is set but CACHE_URL is not")
        raise RunRefused(
            "Running code is not available on this server: its workers cannot hand results back "
            "(CACHE_URL is not set). Submitting still works.",
            status=503,
        )
    refused = _consume(request, parse_rates(settings.RUN_RATE_LIMIT))
    if refused:
        rate, wait = refused
        raise RunRefused(
            f"You have used your runs for now: the limit is {rate.describe()}. Run again in "
            f"{wait} second{'s' if wait != 1 else ''}; your code is still in the editor.",
            status=429,
        )
    address = fair_share.client_address(request) or "unknown"
    flight_key = f"exercises:runs:in-flight:{address}"
    flying = [
        other
        for other in cache.get(flight_key) or []
        if other not in mine and _in_flight(cache.get(_key(other)))
    ]
    cap = settings.RUN_IN_FLIGHT_PER_ADDRESS
    if len(flying) >= cap:
        raise RunRefused(
            f"{len(flying)} runs from your network are already waiting for a grader (the limit is "
            f"{cap} per address). Run again in a moment; your code is still in the editor.",
            status=429,
        )
    run_id = str(uuid.uuid4())
    entry = {
        "id": run_id,
        "exercise": exercise.slug,
        "version": version.pk,
        "code": code,
        "seed": seed,
        "schedule": faults,
        "status": QUEUED,
        "created": time.time(),
        "cid": (getattr(request, "correlation_id", "") or "")[:64],
    }
    cache.set(_key(run_id), entry, RUN_TTL)
    request.session[SESSION_RUNS] = [*mine, run_id][-SESSION_RUNS_KEPT:]
    cache.set(flight_key, [*flying, run_id], RUN_TTL)
    try:
        current_app.tasks[RUN_TASK].delay(run_id)
    except Exception:
        log.exception("could not send run %s", run_id)
        cache.delete(_key(run_id))
        raise RunRefused(
            "The graders could not be reached, so your code did not run. Try again in a moment; "
            "it is still in the editor.",
            status=503,
        ) from None
    log.info(
        "run %s of %s queued (seed %d, %d faults) cid=%s",
        run_id,
        exercise.slug,
        seed,
        len(faults),
        entry["cid"] or "-",
    )
    return entry


def execute(run_id: str) -> str:
    """The task's body: run the code on its one schedule and keep the result. Returns what happened."""
    key = _key(run_id)
    entry = cache.get(key)
    if entry is None:
        log.warning("run %s is gone from the cache (expired, or the cache is not shared)", run_id)
        return "missing"
    if entry["status"] != QUEUED:
        return "done" if entry["status"] == DONE else "busy"
    entry.update(status=RUNNING, started=time.time())
    cache.set(key, entry, RUN_TTL)
    token = correlation_id.set(entry.get("cid") or run_id[:16])
    try:
        log.info("running run %s of %s (seed %d)", run_id, entry["exercise"], entry["seed"])
        version = ExerciseVersion.objects.filter(pk=entry["version"]).first()
        try:
            if version is None:
                result = grading.error_result(
                    "This exercise has changed since you opened it; reload the page and run again."
                )
            else:
                schedule: Counterexample = {
                    "seed": entry["seed"],
                    "schedule": entry["schedule"],
                    "trace": [],
                }
                result = grading.grade_code(version, entry["code"], schedule=schedule)
        except SoftTimeLimitExceeded:
            result = grading.error_result(
                f"The run took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds and was "
                "stopped."
            )
        except Exception:
            log.exception("run %s crashed", run_id)
            result = grading.error_result(
                "The grader failed unexpectedly while running your code. This is our bug, not "
                "yours; run it again in a moment."
            )
        entry.update(status=DONE, result=result, finished=time.time())
        cache.set(key, entry, RUN_TTL)
        log.info("run %s: %s", run_id, result.get("status"))
        return str(result.get("status"))
    finally:
        correlation_id.reset(token)


# -- the code a visitor typed -------------------------------------------------------------------


def remember_draft(request, exercise: Exercise, code: str) -> None:
    """Keep the code for this exercise in the session: it is back in the editor on the next visit,
    including after signing up or logging in (the session's data survives both)."""
    drafts = {
        k: v for k, v in (request.session.get(SESSION_DRAFTS) or {}).items() if k != exercise.slug
    }
    drafts[exercise.slug] = code
    request.session[SESSION_DRAFTS] = dict(list(drafts.items())[-SESSION_DRAFTS_KEPT:])


def draft(request, exercise: Exercise) -> str | None:
    code = (request.session.get(SESSION_DRAFTS) or {}).get(exercise.slug)
    return code if isinstance(code, str) and code.strip() else None


def forget_draft(request, exercise: Exercise) -> None:
    drafts = request.session.get(SESSION_DRAFTS) or {}
    if exercise.slug in drafts:
        request.session[SESSION_DRAFTS] = {k: v for k, v in drafts.items() if k != exercise.slug}


# -- what the templates show --------------------------------------------------------------------


def panel(version: ExerciseVersion, *, seed: int | None = None, faults: list | None = None) -> dict:
    """The Run form's values and what it states about runs (numbers from the code that enforces them)."""
    return {
        "run_seed": default_seed() if seed is None else seed,
        "run_default_seed": default_seed(),
        "run_faults": json.dumps(faults, indent=1) if faults else "",
        "run_max_seed": MAX_SEED,
        "run_fault_kinds": list(scenarios.get(version.scenario).fault_kinds),
        "run_graded_schedules": grading.grading_options(version)["random_schedules"],
        "run_limit": "; ".join(r.describe() for r in parse_rates(settings.RUN_RATE_LIMIT)),
        "run_kept_minutes": RUN_TTL // 60,
    }


def prefill(query) -> tuple[int | None, list | None, str]:
    """Seed and faults put into the Run form by a link ("Replay this schedule" without JavaScript).
    Anything malformed is ignored, with a note."""
    seed_text, faults_text = query.get("run_seed"), query.get("run_faults")
    if seed_text is None and faults_text is None:
        return None, None, ""
    try:
        seed = parse_seed(seed_text)
        data = json.loads(faults_text or "[]")
        if not isinstance(data, list) or len(data) > MAX_FAULTS:
            raise ValueError
        return seed, data, ""
    except (RunRefused, ValueError):
        return (
            None,
            None,
            "The schedule in that link could not be read; the Run form has its defaults.",
        )


def result_context(entry: dict) -> dict:
    """A finished run as the report partial draws it: timeline, annotated trace, load bars."""
    result = dict(entry.get("result") or {})
    example = dict(result.get("counterexample") or {})
    steps = example.get("trace") or []
    load = result.get("load") or []
    peak = max((count for _, count in load), default=0)
    report = {
        **result,
        "load_bars": [round(10 * count / peak) if peak else 0 for _, count in load],
        "timeline_svg": timeline_svg(
            steps, result.get("lanes") or [], violations=result.get("violations")
        )
        if steps
        else "",
    }
    # The partial falls back to a bare "trace": a run's trace is its counterexample's, annotated.
    report["trace"] = annotate(steps, result.get("violations")) if steps else []
    if steps:
        report["counterexample"] = {**example, "trace": report["trace"]}
    return {
        "report": report,
        "run_faults_text": [fault_text(f) for f in entry.get("schedule") or []],
    }
