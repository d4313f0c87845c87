from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from courseapp.lib.modules import MODULES
from courseapp.lib.timeline import annotate, fault_text, load_svg, timeline_svg
from exercises import fair_share, grading, replays, runs, tasks
from exercises.models import Exercise, HintUse, Replay, Submission, unified_diff

REPLAYS_PER_MINUTE = 6


def index(request):
    exercises = list(Exercise.objects.published())
    progress = _progress(request.user)
    for exercise in exercises:
        exercise.progress = progress.get(exercise.pk)
    modules = [
        (number, title, [e for e in exercises if e.module == number])
        for number, title in MODULES.items()
    ]
    return render(request, "exercises/index.html", {"modules": [m for m in modules if m[2]]})


def detail(request, slug):
    exercise = _published(slug)
    code, latest = exercise.published_version.starter, None
    source = request.GET.get("from")
    if source:
        # "Load into editor": one of the learner's own submissions, with its verdict under the
        # editor (so the line a verdict marks is a line of the code shown).
        if not request.user.is_authenticated:
            login = reverse("account_login")
            return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
        try:
            uuid.UUID(source)
        except ValueError:
            raise Http404("No such submission.") from None
        # Someone else's submission is indistinguishable from a missing one.
        loaded = get_object_or_404(
            Submission.objects.for_owner(request.user)
            .filter(exercise=exercise)
            .select_related("exercise", "version"),
            pk=source,
        )
        return _detail(request, exercise, code=loaded.code, latest=loaded, loaded_from=loaded)
    if request.user.is_authenticated:
        latest = Submission.objects.filter(user=request.user, exercise=exercise).first()
        if latest:
            code = latest.code
    code, run_state = _run_state(request, exercise, code)
    return _detail(request, exercise, code=code, latest=latest, run_state=run_state)


@require_POST
def submit(request, slug):
    exercise = _published(slug)
    if not request.user.is_authenticated:
        return _sign_up_to_submit(request, exercise)
    code = request.POST.get("code", "")
    try:
        upload = request.FILES.get("upload")
        if upload is not None and upload.size:
            if upload.size > grading.MAX_CODE_BYTES:
                raise grading.SubmissionRefused(
                    f"The uploaded file is {upload.size / 1024:.1f} KiB; the limit is "
                    f"{grading.MAX_CODE_BYTES // 1024} KiB.",
                    status=413,
                )
            code = grading.decode_upload(upload.read())
        submission, created = grading.submit(
            request.user,
            exercise,
            code,
            request.POST.get("client_token", ""),
            getattr(request, "correlation_id", ""),
            client_address=fair_share.client_address(request),
        )
    except grading.SubmissionRefused as refused:
        latest = Submission.objects.filter(user=request.user, exercise=exercise).first()
        return _detail(
            request,
            exercise,
            code=code,
            latest=latest,
            refused=refused.message,
            status=refused.status,
        )
    if not created:
        messages.info(
            request, "That form was already submitted; here is the submission it created."
        )
        return redirect(submission)
    runs.forget_draft(request, exercise)
    return redirect(exercise.get_absolute_url() + "#result")


def _sign_up_to_submit(request, exercise):
    """An anonymous visitor who submits: keep their code in the session (it survives signing up and
    logging in) and ask them to sign up; the exercise page puts it back in the editor."""
    code = request.POST.get("code", "")
    upload = request.FILES.get("upload")
    if upload is not None and 0 < upload.size <= grading.MAX_CODE_BYTES:
        try:
            code = grading.decode_upload(upload.read())
        except grading.SubmissionRefused:
            pass  # keep what the editor held
    kept = ""
    if code.strip():
        try:
            runs.remember_draft(request, exercise, runs.check_code(code))
            kept = " Your code is kept: it will be back in the editor."
        except runs.RunRefused as refused:
            kept = f" Your code could not be kept: {refused.message}"
    messages.info(
        request, f"Sign up (or log in) to have your code for “{exercise.title}” graded.{kept}"
    )
    signup = reverse("account_signup")
    return redirect(f"{signup}?{urlencode({'next': exercise.get_absolute_url()})}")


# -- Run before you submit (exercises/runs.py) -------------------------------------------------


@require_POST
def run(request, slug):
    """Run the code in the editor once, on a worker (never here). Not a submission: no row, no
    progress, no history. Refusals keep the code in the editor."""
    exercise = Exercise.objects.published().select_related("published_version").filter(slug=slug)
    exercise = exercise.first()
    if exercise is None:
        if request.htmx:
            return _run_refused(request, "There is no published exercise at this address.", 404)
        raise Http404("No such exercise.")
    code = request.POST.get("code", "")
    seed_text, faults_text = request.POST.get("seed", ""), request.POST.get("faults", "")
    uploaded = False
    try:
        upload = request.FILES.get("upload")
        if upload is not None and upload.size:
            if upload.size > grading.MAX_CODE_BYTES:
                raise runs.RunRefused(
                    f"The uploaded file is {upload.size / 1024:.1f} KiB; the limit is "
                    f"{grading.MAX_CODE_BYTES // 1024} KiB.",
                    status=413,
                )
            try:
                code, uploaded = grading.decode_upload(upload.read()), True
            except grading.SubmissionRefused as refused:
                raise runs.RunRefused(refused.message, refused.status) from None
        entry = runs.start(request, exercise, code, seed_text, faults_text)
    except runs.RunRefused as refused:
        if request.htmx:
            return _run_refused(request, refused.message, refused.status)
        latest = None
        if request.user.is_authenticated:
            latest = Submission.objects.filter(user=request.user, exercise=exercise).first()
        state = {
            **runs.panel(exercise.published_version),
            "run_seed": seed_text,
            "run_faults": faults_text,
            "run_refused": refused.message,
        }
        return _detail(
            request, exercise, code=code, latest=latest, status=refused.status, run_state=state
        )
    page = f"{exercise.get_absolute_url()}?{urlencode({'run': entry['id']})}#run"
    if request.htmx and uploaded:
        # The uploaded file replaces the editor's code: show the page with it in the editor.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = page
        return response
    if request.htmx:
        return render(request, "exercises/_run.html", {"exercise": exercise, **_run_context(entry)})
    return redirect(page)


def run_status(request, run_id):
    """A run's panel (htmx polls it); without JavaScript, the exercise page with the run in it."""
    entry = runs.get(request, run_id)
    if entry is None:
        message = (
            f"This run is no longer available (runs are kept for {runs.RUN_TTL // 60} minutes, "
            "in the browser that started them). Run your code again."
        )
        if request.htmx:
            return _run_refused(request, message, 404)
        raise Http404(message)
    exercise = get_object_or_404(Exercise.objects.published(), slug=entry["exercise"])
    if not request.htmx:
        return redirect(f"{exercise.get_absolute_url()}?{urlencode({'run': entry['id']})}#run")
    return render(request, "exercises/_run.html", {"exercise": exercise, **_run_context(entry)})


def _run_refused(request, message: str, status: int):
    response = render(request, "exercises/_run.html", {"run_refused": message}, status=status)
    # htmx swaps no 4xx/5xx by default; static/js/run.js lets the Run panel's own refusals through.
    response["X-Run-Refusal"] = "1"
    return response


def _run_context(entry: dict) -> dict:
    context: dict = {"run": entry}
    if entry["status"] == runs.DONE:
        context.update(runs.result_context(entry))
        context["run_error_excerpt"] = error_excerpt(entry.get("result") or {}, entry["code"])
    return context


def _run_state(request, exercise, code: str) -> tuple[str, dict]:
    """The Run panel of an exercise page and the code for its editor: a run's own code on its page
    without JavaScript (?run=), else code kept from a run or an anonymous submit (a draft)."""
    version = exercise.published_version
    seed, faults, note = runs.prefill(request.GET)
    state = {**runs.panel(version, seed=seed, faults=faults), "run_note": note}
    if "run" in request.GET:
        entry = runs.get(request, request.GET["run"])
        if entry is not None and entry["exercise"] == exercise.slug:
            state.update(runs.panel(version, seed=entry["seed"], faults=entry["schedule"]))
            state.update(_run_context(entry))
            return entry["code"], state
        state["run_missing"] = runs.RUN_TTL // 60
    kept = runs.draft(request, exercise)
    if kept is not None and kept != code:
        state["run_draft"] = True
        return kept, state
    return code, state


@login_required
@require_POST
def hint(request, slug):
    exercise = _published(slug)
    hints = exercise.published_version.hints
    revealed = HintUse.reveal_next(request.user, exercise, len(hints))
    context = {"exercise": exercise, "hints": hints[:revealed], "hints_left": len(hints) - revealed}
    if request.htmx:
        return render(request, "exercises/_hints.html", context)
    return redirect(exercise.get_absolute_url() + "#hints")


@login_required
def submission(request, pk):
    item = _owned(request, pk)
    if not item.is_done:
        tasks.maybe_sweep()
    context = _submission_context(item, request.user)
    if request.htmx:
        if item.is_done and _on_page(request, item.exercise.get_absolute_url()):
            # The verdict may unlock the reference solution further down the exercise page: swap it too.
            context.update(
                exercise=item.exercise,
                version=item.exercise.published_version or item.version,
                solution_unlocked=item.exercise.solution_unlocked_for(request.user),
                oob=True,
                run_here=True,
            )
            return render(request, "exercises/_submission_update.html", context)
        return render(request, "exercises/_submission.html", context)
    return render(request, "exercises/submission.html", context)


def _on_page(request, path: str) -> bool:
    return urlsplit(request.htmx.current_url or "").path == path


@login_required
@require_POST
def replay(request, pk):
    """Queue a replay of the counterexample on a worker (never here) and show its page, which polls."""
    item = _owned(request, pk)
    if item.counterexample is None:
        raise Http404("This submission has no schedule to replay.")
    in_flight = item.replays.filter(status__in=Replay.IN_FLIGHT).first()
    if in_flight is None and not _allow_replay(request.user):
        context = {
            "submission": item,
            "replay": None,
            "refused": f"You can replay {REPLAYS_PER_MINUTE} schedules a minute; wait a moment.",
        }
        return render(
            request,
            "exercises/_replay.html" if request.htmx else "exercises/replay.html",
            context,
            status=429,
        )
    queued = in_flight or replays.request_replay(item, getattr(request, "correlation_id", ""))[0]
    if request.htmx:
        return render(request, "exercises/_replay.html", _replay_context(queued))
    return redirect(queued)


@login_required
def replay_status(request, pk):
    # Someone else's replay is indistinguishable from a missing one.
    found = get_object_or_404(
        Replay.objects.select_related("submission__exercise", "submission__version").filter(
            submission__user=request.user
        ),
        pk=pk,
    )
    context = _replay_context(found)
    if request.htmx:
        return render(request, "exercises/_replay.html", context)
    return render(request, "exercises/replay.html", context)


def _replay_context(item: Replay) -> dict:
    replayed = item.result_data
    return {
        "submission": item.submission,
        "replay": item,
        "replayed": replayed,
        "timeline": _timeline(replayed) if item.is_done else "",
        "trace_steps": _trace_steps(replayed),
    }


@login_required
def history(request, slug):
    exercise = _published(slug)
    items = list(
        Submission.objects.filter(user=request.user, exercise=exercise).order_by("created_at")
    )
    unlocked = exercise.solution_unlocked_for(request.user)
    solution = exercise.published_version.solution
    rows = [
        {
            "item": item,
            "diff": item.diff_lines(previous),
            "reference_diff": _reference_diff(item.code, solution) if unlocked else [],
        }
        for previous, item in zip([None, *items], items)
    ]
    return render(
        request,
        "exercises/history.html",
        {"exercise": exercise, "rows": rows[::-1], "solution_unlocked": unlocked},
    )


def _published(slug) -> Exercise:
    return get_object_or_404(
        Exercise.objects.published().select_related("published_version"), slug=slug
    )


def _owned(request, pk) -> Submission:
    # Someone else's submission is indistinguishable from a missing one.
    return get_object_or_404(
        Submission.objects.for_owner(request.user).select_related("exercise", "version"), pk=pk
    )


def _progress(user) -> dict[int, str]:
    if not user.is_authenticated:
        return {}
    progress: dict[int, str] = {}
    for exercise_id, status in Submission.objects.filter(user=user).values_list(
        "exercise_id", "status"
    ):
        if status == Submission.PASSED or progress.get(exercise_id) == "passed":
            progress[exercise_id] = "passed"
        else:
            progress[exercise_id] = "attempted"
    return progress


def _detail(
    request, exercise, *, code, latest, refused=None, status=200, loaded_from=None, run_state=None
):
    version = exercise.published_version
    revealed = HintUse.revealed_for(request.user, exercise)
    context = {
        "loaded_from": loaded_from,
        "exercise": exercise,
        "version": version,
        "code": code,
        "latest": latest,
        "refused": refused,
        "client_token": uuid.uuid4().hex,
        "max_kib": grading.MAX_CODE_BYTES // 1024,
        "hints": version.hints[:revealed],
        "hints_left": len(version.hints) - revealed,
        "solution_unlocked": exercise.solution_unlocked_for(request.user),
        "progress": _progress(request.user).get(exercise.pk),
    }
    if latest:
        context.update(_submission_context(latest, request.user))
    # The Run panel; "Replay this schedule" on the verdict loads its schedule into it.
    context.update(run_here=True, **(run_state or runs.panel(version)))
    return render(request, "exercises/detail.html", context, status=status)


def _submission_context(item: Submission, user) -> dict:
    result = item.result_data
    example = item.counterexample or {}
    unlocked = item.exercise.solution_unlocked_for(user)
    solution = (item.exercise.published_version or item.version).solution
    return {
        "submission": item,
        "result": result,
        # Only a finished exploration says whether an invariant held: an error or a timeout
        # checked none of them, whatever an old or malformed report says.
        "invariants_checked": result.get("status") in ("passed", "failed"),
        "error_excerpt": error_excerpt(result, item.code),
        "faults": [fault_text(f) for f in example.get("schedule") or []],
        "faults_json": json.dumps(example.get("schedule") or []),
        "timeline": _timeline(result),
        "trace_steps": _trace_steps(result),
        "load_chart": load_svg(result.get("load") or []),
        "solution_unlocked": unlocked,
        "reference_diff": _reference_diff(item.code, solution) if unlocked else [],
    }


def _reference_diff(code: str, solution: str) -> list[tuple[str, str]]:
    return unified_diff(code, solution, "your code", "the reference solution", context=None)


def _timeline(result: dict) -> str:
    example = (result or {}).get("counterexample")
    if not example or not example.get("trace"):
        return ""
    return timeline_svg(
        example["trace"], result.get("lanes") or [], violations=result.get("violations")
    )


def _trace_steps(result: dict) -> list[dict]:
    example = (result or {}).get("counterexample") or {}
    return annotate(example.get("trace") or [], (result or {}).get("violations"))


_LINE = re.compile(r"\bline (\d+)\b")
EXCERPT_AROUND = 2


def error_excerpt(result: dict, code: str) -> dict | None:
    """The line of the learner's code that an error names, with a little of the code around it.

    An error or a timeout names it in its message ("SyntaxError on line 2", "(line 1)"); a failed
    run whose code raised says so after "raised"."""
    message = str((result or {}).get("message") or "")
    status = (result or {}).get("status")
    if status == "failed":
        _, raised, message = message.partition("Your code raised")
        if not raised:
            return None
    elif status not in ("error", "timeout"):
        return None
    match = _LINE.search(message)
    lines = (code or "").splitlines()
    if not match or not 1 <= int(match.group(1)) <= len(lines):
        return None
    number = int(match.group(1))
    first = max(1, number - EXCERPT_AROUND)
    last = min(len(lines), number + EXCERPT_AROUND)
    width = len(str(last))
    return {
        "number": number,
        "lines": [(n == number, f"{n:>{width}} | {lines[n - 1]}") for n in range(first, last + 1)],
    }


def _allow_replay(user) -> bool:
    key = f"exercises:replays:{user.pk}"
    cache.add(key, 0, 60)
    try:
        return cache.incr(key) <= REPLAYS_PER_MINUTE
    except ValueError:
        return True
