"""The instructor area at /teach/: author, validate, publish and export exercises,
read their analytics, and edit Quick Test questions. Every view is behind
@instructor_required (403 for learners)."""

from __future__ import annotations

import functools
import io
import zipfile

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from courseapp.lib.markdown import render_html as render_markdown
from exercises.models import Exercise, ExerciseVersion, Submission
from lessons.models import Question
from teach import authoring
from teach import tasks as teach_tasks
from teach.forms import QuestionForm, exercise_forms, fill_from_scenario, forms_valid


def instructor_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not authoring.is_instructor(request.user):
            raise PermissionDenied("The instructor area is for instructors.")
        return view(request, *args, **kwargs)

    wrapper.instructor_only = True
    return wrapper


@instructor_required
def index(request):
    exercises = Exercise.objects.select_related("published_version").prefetch_related("versions")
    return render(request, "teach/index.html", {"exercises": exercises})


@instructor_required
def exercise_new(request):
    return _exercise_form(request, None)


@instructor_required
def exercise_edit(request, slug):
    return _exercise_form(request, get_object_or_404(Exercise, slug=slug))


@instructor_required
def exercise(request, slug):
    item = get_object_or_404(Exercise.objects.select_related("published_version"), slug=slug)
    versions = item.versions.select_related("created_by").order_by("-number")
    return render(
        request,
        "teach/exercise.html",
        {"exercise": item, "versions": versions, "latest": versions.first()},
    )


@instructor_required
def version(request, slug, number):
    item = _version(slug, number)
    context = {"exercise": item.exercise, "version": item}
    if request.htmx:
        return render(request, "teach/_validation.html", context)
    return render(request, "teach/version.html", context)


@instructor_required
@require_POST
def validate(request, slug, number):
    item = _version(slug, number)
    teach_tasks.request_validation(item, request.user)
    item.refresh_from_db()
    if request.htmx:
        return render(
            request, "teach/_validation.html", {"exercise": item.exercise, "version": item}
        )
    return redirect("teach:version", slug, number)


@instructor_required
@require_POST
def publish(request, slug, number):
    item = _version(slug, number)
    try:
        authoring.publish(item)
    except authoring.PublishRefused as refused:
        messages.error(request, str(refused))
        return redirect("teach:version", slug, number)
    messages.success(
        request, f"Version {item.number} is published: learners now see and are graded against it."
    )
    return redirect("teach:exercise", slug)


@instructor_required
@require_POST
def preview(request):
    context = {"html": render_markdown(request.POST.get("statement", ""))}
    if request.htmx:
        return render(request, "teach/_preview.html", context)
    return render(request, "teach/preview.html", context)


@instructor_required
def stats(request, slug):
    item = get_object_or_404(Exercise, slug=slug)
    # Poison submissions: their gradings crashed the grader until they were stopped (logged with their cid).
    retired = (
        Submission.objects.filter(exercise=item, retired=True)
        .select_related("user")
        .order_by("-finished_at")[:20]
    )
    return render(
        request,
        "teach/stats.html",
        {
            "exercise": item,
            "stats": authoring.exercise_stats(item),
            "retired": list(retired),
            "retired_count": Submission.objects.filter(exercise=item, retired=True).count(),
        },
    )


@instructor_required
def export(request, slug):
    item = get_object_or_404(Exercise, slug=slug)
    chosen = (
        _version(slug, int(request.GET["version"]))
        if request.GET.get("version", "").isdigit()
        else item.published_version or item.latest_version()
    )
    if chosen is None:
        messages.error(request, "This exercise has no version to export yet.")
        return redirect("teach:exercise", slug)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in authoring.export_files(item, chosen).items():
            archive.writestr(f"{item.slug}/{name}", text)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{item.slug}-v{chosen.number}.zip"'
    return response


@instructor_required
def questions(request):
    return render(
        request,
        "teach/questions.html",
        {
            "questions": authoring.question_stats(),
            "min_answers": authoring.CONFUSING_MIN_ANSWERS,
            "right_rate": authoring.CONFUSING_RIGHT_RATE,
        },
    )


@instructor_required
def question_edit(request, key):
    question = get_object_or_404(Question.objects.select_related("lesson"), key=key)
    form = QuestionForm(
        request.POST or None,
        question=question,
        initial=None if request.POST else QuestionForm.initial_from(question),
    )
    shown = question
    if request.method == "POST":
        row = form.check()
        if row is not None and "save" in request.POST:
            authoring.update_question(question, row)
            messages.success(
                request,
                "Saved. Download it as YAML and put it in the repository: the next "
                "load_content replaces edits made here.",
            )
            return redirect("teach:question_edit", key)
        shown = Question(**row) if row is not None else question
    return render(
        request, "teach/question_form.html", {"question": question, "form": form, "shown": shown}
    )


@instructor_required
@require_POST
def question_preview(request, key):
    question = get_object_or_404(Question.objects.select_related("lesson"), key=key)
    form = QuestionForm(request.POST, question=question)
    row = form.check()
    context = {"question": question, "form": form, "shown": Question(**row) if row else None}
    return render(request, "teach/_question_preview.html", context)


@instructor_required
def question_yaml(request, key):
    question = get_object_or_404(Question.objects.select_related("lesson"), key=key)
    response = HttpResponse(
        authoring.question_yaml(authoring.question_raw(question)),
        content_type="application/yaml; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{question.key}.yaml"'
    return response


def _version(slug, number) -> ExerciseVersion:
    return get_object_or_404(
        ExerciseVersion.objects.select_related("exercise", "created_by"),
        exercise__slug=slug,
        number=number,
    )


def _exercise_form(request, item: Exercise | None):
    latest = item.latest_version() if item else None
    spec = authoring.spec_for(item, latest) if item and latest else None
    data = request.POST if request.method == "POST" else None
    previewing = data is not None and ("preview" in data or "from_scenario" in data)
    if data is not None and "from_scenario" in data:
        data = fill_from_scenario(data)
    form, variants = exercise_forms(data, item, spec)
    if request.method == "POST" and not previewing and forms_valid(form, variants):
        try:
            item, saved, created = authoring.save_draft(
                form.spec(variants.variants()), request.user, item
            )
        except IntegrityError:
            # Two saves raced for the same slug or version number; nothing was written.
            form.add_error(
                None,
                "Someone else saved this exercise at the same moment. Check it and save again.",
            )
            return _render_exercise_form(request, item, latest, form, variants, previewing=False)
        if created:
            messages.success(
                request, f"Saved as version {saved.number}. Validate it, then publish it."
            )
        else:
            messages.info(
                request, f"Saved. The content is unchanged, so it is still version {saved.number}."
            )
        return redirect("teach:version", item.slug, saved.number)
    return _render_exercise_form(request, item, latest, form, variants, previewing)


def _render_exercise_form(request, item, latest, form, variants, previewing):
    statement = form["statement"].value() or ""
    return render(
        request,
        "teach/exercise_form.html",
        {
            "exercise": item,
            "latest": latest,
            "form": form,
            "variants": variants,
            "show_errors": not previewing,
            "preview_html": render_markdown(statement) if statement else "",
        },
    )
