from urllib.parse import urlencode

from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from courseapp.lib import claims
from courseapp.lib.markdown import playground_presets, split_parts
from courseapp.lib.modules import MODULES, TOPICS
from exercises.models import Exercise
from lessons import playground, progress
from lessons.models import Lesson


def index(request):
    lessons = list(Lesson.objects.all())
    done = progress.completed_slugs(request)
    modules = [
        (
            number,
            title,
            [(lesson, lesson.slug in done) for lesson in lessons if lesson.module == number],
        )
        for number, title in MODULES.items()
    ]
    return render(
        request,
        "lessons/index.html",
        {
            "modules": modules,
            "done_count": len(done & {lesson.slug for lesson in lessons}),
            "total": len(lessons),
            "continue_at": progress.last_visited(request),
        },
    )


def detail(request, slug):
    lesson = get_object_or_404(Lesson, slug=slug)
    chosen = request.GET.get("playground")
    if chosen and chosen not in lesson.playgrounds:
        raise Http404("This lesson has no such playground")
    if chosen and request.htmx:
        return render(
            request,
            "lessons/_playground_result.html",
            _playground_state(request, chosen, active=True, lesson=lesson),
        )
    progress.record_visit(request, lesson)
    return render(
        request,
        "lessons/detail.html",
        {
            "lesson": lesson,
            "body": _body(request, lesson, chosen),
            "tail": _tail(lesson),
            "completed": lesson.slug in progress.completed_slugs(request),
        },
    )


def _body(request, lesson: Lesson, chosen: str | None) -> str:
    """The lesson text with its playgrounds. In their default state it is the
    same for everyone, so it is rendered once per content version."""
    key = f"lesson-body:{lesson.slug}:{lesson.updated_at.timestamp()}"
    if not chosen and (cached := cache.get(key)) is not None:
        return mark_safe(cached)  # rendered from our own template
    panels = {
        name: _playground_state(request, name, active=(name == chosen), lesson=lesson)
        for name in lesson.playgrounds
    }
    presets = [_preset(lesson, claim) for claim in claims.parse_all(lesson.body)]
    parts: list[tuple[str, object]] = []
    for kind, value in split_parts(lesson.html):
        if kind == "playground":
            parts.append((kind, panels.get(value)))
        elif kind == "claim":
            parts.append((kind, presets[int(value)]))
        else:
            parts.append((kind, value))
    checks = [
        {**item, "preset": _preset(lesson, claims.parse(item["try"])) if item.get("try") else None}
        for item in lesson.self_check
    ]
    html = render_to_string(
        "lessons/_body.html", {"lesson": lesson, "parts": parts, "checks": checks}
    )
    if not chosen:
        cache.set(key, html, 3600)
    return mark_safe(html)  # rendered from our own template


def _tail(lesson: Lesson) -> str:
    """Related exercises and the pager: the same for everyone. Short-lived,
    since an instructor may publish an exercise at any time."""
    key = f"lesson-tail:{lesson.slug}:{lesson.updated_at.timestamp()}"
    if (cached := cache.get(key)) is None:
        cached = render_to_string(
            "lessons/_tail.html",
            {
                "lesson": lesson,
                "exercises": _exercises(lesson.exercise_slugs),
                "topics": [(topic, TOPICS[topic]) for topic in lesson.topics],
            },
        )
        cache.set(key, cached, 300)
    return mark_safe(cached)  # rendered from our own template


@require_POST
def complete(request, slug):
    lesson = get_object_or_404(Lesson, slug=slug)
    done = request.POST.get("done") == "1"
    progress.set_completed(request, lesson, done)
    if request.htmx:
        return render(
            request, "lessons/_complete_button.html", {"lesson": lesson, "completed": done}
        )
    return redirect(lesson)


def _playground_state(request, key: str, active: bool, lesson: Lesson) -> dict:
    spec = playground.catalogue().get(key)
    if spec is None:
        return {"key": key, "missing": True}
    query = request.GET if active else {}
    toggles = playground.toggles_from(query, key, playground_presets(lesson.body).get(key))
    seed = playground.seed_from(query) if active else playground.DEFAULT_SEED
    return {
        "key": key,
        "spec": spec,
        "toggles": toggles,
        "seed": seed,
        "report": playground.run(key, toggles, seed),
        "fields": [{**t, "checked": toggles[t["name"]]} for t in spec["toggles"]],
    }


def _preset(lesson: Lesson, claim: claims.Claim) -> dict:
    """A claim as a one-click preset: a plain link that opens the playground with the claim's
    toggles and seed (in this lesson, or the first lesson that embeds that playground), and the
    result the claim expects, which load_content has checked."""
    target = lesson
    if claim.playground not in lesson.playgrounds:
        target = next(
            (
                other
                for other in Lesson.objects.only("slug", "title", "playgrounds", "order")
                if claim.playground in other.playgrounds
            ),
            lesson,
        )
    return {
        "claim": claim,
        "href": f"{target.get_absolute_url()}?{urlencode(claim.query())}#playground-{claim.playground}",
        "elsewhere": target if target.pk != lesson.pk else None,
        "toggles": claims.describe_toggles(claim),
        "breaks": claims.describe_outcome(claim),
    }


def _exercises(slugs):
    found = {e.slug: e for e in Exercise.objects.published().filter(slug__in=slugs)}
    return [found[slug] for slug in slugs if slug in found]
