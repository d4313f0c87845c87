import secrets
from urllib.parse import urlencode

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
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
    lesson = _current_lesson(slug)
    chosen = request.GET.get("playground")
    if chosen and chosen not in lesson.playgrounds:
        raise Http404("This lesson has no such playground")
    if chosen and request.htmx and request.GET.get("part") == "detail":
        return HttpResponse(_detail(lesson, chosen))
    if chosen and request.htmx:
        return render(
            request,
            "lessons/_playground_result.html",
            _playground_state(request, chosen, active=True, lesson=lesson),
        )
    progress.record_visit(request, lesson)
    completed = lesson.slug in progress.completed_slugs(request)
    if _same_for_every_visitor(request):
        return _visitor_page(request, lesson, completed)
    return render(
        request, "lessons/detail.html", _detail_context(request, lesson, completed, chosen)
    )


# Each process keeps the lessons it has shown, by slug, beside the updated_at they were read with;
# a request checks with one short read that the row is unchanged (every save, load_content's
# included, moves updated_at). Building that read through the ORM cost more than running it, and
# reading the whole row (the lesson's text) again more still. Shared by requests: never changed.
_lessons: dict[str, tuple[object, Lesson]] = {}


def _current_lesson(slug: str) -> Lesson:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT updated_at FROM {connection.ops.quote_name(Lesson._meta.db_table)}"
            " WHERE slug = %s",
            [slug],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such lesson")
    held = _lessons.get(slug)
    if held is not None and held[0] == row[0]:
        return held[1]
    lesson = get_object_or_404(Lesson, slug=slug)
    # Kept under the version read first: had the row changed in between, the next request
    # reads a newer version and loads the lesson again.
    _lessons[slug] = (row[0], lesson)
    return lesson


def _detail_context(request, lesson: Lesson, completed: bool, chosen: str | None = None) -> dict:
    return {
        "lesson": lesson,
        "body": _body(request, lesson, chosen),
        "tail": _tail(lesson),
        "completed": completed,
    }


# An anonymous reader's lesson page differs from the next reader's only by the CSRF token and
# whether they marked the lesson complete: the page is rendered once per lesson version and
# completion state with a stand-in for the token, which each response replaces with its own. The
# stand-in is random per process, so no lesson text can contain it.
TOKEN_STAND_IN = "csrf-stand-in-" + secrets.token_hex(16)
# As short-lived as the tail it holds (an instructor may publish an exercise at any time).
PAGE_SECONDS = 300


def _same_for_every_visitor(request) -> bool:
    """An anonymous reader, on the plain address (the login links carry the path), with no
    message waiting to be shown (len() reads the messages without marking them shown)."""
    return (
        not request.user.is_authenticated
        and not request.GET
        and not request.htmx
        and not len(get_messages(request))
    )


def _visitor_page(request, lesson: Lesson, completed: bool) -> HttpResponse:
    key = f"lesson-page:{lesson.slug}:{lesson.updated_at.timestamp()}:{int(completed)}"
    parts = cache.get(key)
    if parts is None:
        context = {**_detail_context(request, lesson, completed), "csrf_token": TOKEN_STAND_IN}
        page = render_to_string("lessons/detail.html", context, request=request)
        # Kept encoded and cut at the stand-ins: a response is the parts joined by its token.
        parts = page.encode().split(TOKEN_STAND_IN.encode())
        cache.set(key, parts, PAGE_SECONDS)
    # get_token() also tells the CSRF middleware to send the cookie the token belongs to.
    return HttpResponse(get_token(request).encode().join(parts))


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
    """A playground panel. The one the reader ran (active) shows its whole report; the others,
    in their default state, show the verdict and the invariants, and fetch their timeline and
    trace (most of a lesson page's bytes) when scrolled into view, or, without JavaScript,
    behind a link to the page with that playground opened."""
    spec = playground.catalogue().get(key)
    if spec is None:
        return {"key": key, "missing": True}
    query = request.GET if active else {}
    toggles = playground.toggles_from(query, key, playground_presets(lesson.body).get(key))
    seed = playground.seed_from(query) if active else playground.DEFAULT_SEED
    report = playground.run(key, toggles, seed)
    state = {
        "key": key,
        "spec": spec,
        "toggles": toggles,
        "seed": seed,
        "report": report,
        "fields": [{**t, "checked": toggles[t["name"]]} for t in spec["toggles"]],
    }
    if not active and _has_detail(report):
        opened = f"{lesson.get_absolute_url()}?{urlencode({'playground': key})}"
        state["summary"] = _without_detail(report)
        state["opened_url"] = f"{opened}#playground-{key}"
        state["detail_url"] = f"{opened}&part=detail"
    return state


def _has_detail(report: dict) -> bool:
    example = report.get("counterexample") or {}
    return bool(report.get("timeline_svg") or report.get("trace") or example.get("trace"))


def _without_detail(report: dict) -> dict:
    """The report as sandbox/_report.html draws it without its timeline and trace."""
    example = report.get("counterexample")
    return {
        **report,
        "timeline_svg": "",
        "trace": [],
        "counterexample": {**example, "trace": []} if example else example,
    }


def _detail(lesson: Lesson, key: str) -> str:
    """The timeline and trace of a playground's default run in this lesson: the same for
    everyone, so rendered once per lesson version."""
    cache_key = f"lesson-detail:{lesson.slug}:{lesson.updated_at.timestamp()}:{key}"
    if (cached := cache.get(cache_key)) is None:
        toggles = playground.toggles_from({}, key, playground_presets(lesson.body).get(key))
        report = playground.run(key, toggles, playground.DEFAULT_SEED)
        cached = render_to_string("sandbox/_report_detail.html", {"report": report})
        cache.set(cache_key, cached, 3600)
    return cached


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
