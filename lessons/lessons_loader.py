"""Load lessons from lessons/content/NN-slug.md (front matter + Markdown)."""

from __future__ import annotations

import math
from pathlib import Path

from django.conf import settings

from courseapp.lib import claims
from courseapp.lib.content import ContentError, LoadReport, split_front_matter
from courseapp.lib.markdown import (
    PLAYGROUND_MARKER,
    content_links,
    mark_claims,
    mark_playgrounds,
    plain_text,
    render_markdown,
)
from courseapp.lib.modules import MODULES, TOPICS
from lessons.models import Lesson
from sandbox.playgrounds import PLAYGROUNDS

REQUIRED = ("slug", "title", "module", "order", "summary")
FIELDS = (
    "title",
    "module",
    "order",
    "summary",
    "body",
    "html",
    "toc",
    "reading_minutes",
    "topics",
    "exercise_slugs",
    "playgrounds",
    "self_check",
    "source",
)
CONTENT_DIR = Path(__file__).resolve().parent / "content"
DIAGRAMS = Path(settings.BASE_DIR) / "static" / "lessons"


def _known_playgrounds() -> set[str]:
    return set(PLAYGROUNDS)


def _parse(path: Path, exercise_slugs: set[str], playgrounds: set[str] | None) -> dict:
    meta, body, body_line = split_front_matter(path)
    for key in REQUIRED:
        if key not in meta:
            raise ContentError(path, 2, f"front matter is missing '{key}'")
    if meta["module"] not in MODULES:
        raise ContentError(path, 2, f"unknown module {meta['module']!r}; known: {sorted(MODULES)}")
    for topic in meta.get("topics") or []:
        if topic not in TOPICS:
            raise ContentError(path, 2, f"unknown topic {topic!r}")
    for slug in meta.get("exercises") or []:
        if slug not in exercise_slugs:
            raise ContentError(path, 2, f"front matter names an unknown exercise {slug!r}")
    checks = meta.get("self_check") or []
    if not isinstance(checks, list) or any(
        not isinstance(c, dict)
        or not c.get("question")
        or not c.get("answer")
        or not isinstance(c.get("try", ""), str)
        for c in checks
    ):
        raise ContentError(path, 2, "self_check must be a list of {question, answer[, try]}")
    found_claims = _parse_claims(path, body, body_line, checks)
    embedded = [match.group(1) for match in PLAYGROUND_MARKER.finditer(body)]
    presets: dict[str, dict[str, bool]] = {}
    for offset, line in enumerate(body.split("\n")):
        where = (path, body_line + offset)
        if not line.startswith("::: playground"):
            continue
        match = PLAYGROUND_MARKER.match(line)
        if not match:
            raise ContentError(*where, "expected '::: playground KEY [TOGGLE=on|off ...]'")
        key = match.group(1)
        if playgrounds is not None and key not in playgrounds:
            raise ContentError(*where, f"unknown playground {key!r}")
        names = [word.split("=")[0] for word in match.group(2).split()]
        known = [t["name"] for t in PLAYGROUNDS[key]["toggles"]] if key in PLAYGROUNDS else []
        for name in names:
            if name not in known:
                raise ContentError(*where, f"playground {key!r} has no toggle {name!r}")
        if len(set(names)) != len(names):
            raise ContentError(*where, "a toggle is given twice")
        chosen = {w.split("=")[0]: w.endswith("=on") for w in match.group(2).split()}
        if key in presets and presets[key] != chosen:
            raise ContentError(*where, f"playground {key!r} is embedded twice with other toggles")
        presets[key] = chosen
    html, toc = render_markdown(mark_claims(mark_playgrounds(body)))
    words = len(plain_text(html).split())
    return {
        "slug": meta["slug"],
        "title": meta["title"],
        "module": meta["module"],
        "order": meta["order"],
        "summary": meta["summary"],
        "body": body,
        "html": html,
        "toc": toc,
        "reading_minutes": max(1, math.ceil(words / 200)),
        "topics": meta.get("topics") or [],
        "exercise_slugs": meta.get("exercises") or [],
        "playgrounds": list(dict.fromkeys(embedded or meta.get("playgrounds") or [])),
        "self_check": [
            {"question": c["question"], "answer": c["answer"]}
            | ({"try": claims.parse(c["try"]).text} if c.get("try") else {})
            for c in checks
        ],
        "source": str(path.relative_to(settings.BASE_DIR))
        if path.is_relative_to(settings.BASE_DIR)
        else str(path),
        "_body_line": body_line,
        "_path": path,
        "_claims": found_claims,
        "_presets": presets,
    }


def _parse_claims(path: Path, body: str, body_line: int, checks: list[dict]) -> list:
    """[(line, Claim)] for every `::: try` line of the body and every self-check's `try`;
    a claim that does not follow the grammar stops the load at its line."""
    found = []
    for offset, text in claims.find(body):
        try:
            found.append((body_line + offset, claims.parse(text)))
        except claims.ClaimSyntaxError as exc:
            raise ContentError(path, body_line + offset, f"{claims.DIRECTIVE} {exc}") from None
    front = path.read_text(encoding="utf-8").split("\n")[: body_line - 1]
    for check in checks:
        if not check.get("try"):
            continue
        line = next(
            (n for n, text in enumerate(front, 1) if check["try"] in text and "try:" in text), 2
        )
        try:
            found.append((line, claims.parse(check["try"])))
        except claims.ClaimSyntaxError as exc:
            raise ContentError(path, line, f"self-check try: {exc}") from None
    return found


def _check_claims(parsed: dict[str, dict]) -> None:
    """Run every claim through the playground code the page runs; refuse one that does not
    show what it says, or whose playground no lesson embeds (its preset would lead nowhere)."""
    embedded = {key for data in parsed.values() for key in data["playgrounds"]}
    for data in parsed.values():
        for line, claim in data["_claims"]:
            unnamed = set(data["_presets"].get(claim.playground, {})) - dict(claim.toggles).keys()
            if unnamed:
                raise ContentError(
                    data["_path"],
                    line,
                    f"this lesson starts playground {claim.playground!r} with "
                    f"{', '.join(sorted(unnamed))} set: the claim must say it too, so it reads "
                    "the same on the page and in the run",
                )
            if claim.playground not in embedded:
                raise ContentError(
                    data["_path"],
                    line,
                    f"claim on playground {claim.playground!r}, which no lesson embeds "
                    f"('::: playground {claim.playground}')",
                )
            reason = claims.check(claim)
            if reason:
                raise ContentError(data["_path"], line, reason)


def _check_links(parsed: dict[str, dict], exercise_slugs: set[str]) -> None:
    anchors = {slug: {entry["id"] for entry in data["toc"]} for slug, data in parsed.items()}
    for data in parsed.values():
        for line, target in content_links(data["body"]):
            where = (data["_path"], data["_body_line"] + line)
            if target.startswith("lesson:"):
                slug, _, anchor = target[len("lesson:") :].partition("#")
                if slug not in parsed:
                    raise ContentError(*where, f"link to an unknown lesson {slug!r}")
                if anchor and anchor not in anchors[slug]:
                    raise ContentError(
                        *where, f"link to an unknown section {anchor!r} of lesson {slug!r}"
                    )
            elif target.startswith("exercise:"):
                if target[len("exercise:") :] not in exercise_slugs:
                    raise ContentError(*where, f"link to an unknown exercise {target!r}")
            elif target.startswith("diagrams/"):
                if not (DIAGRAMS / target).is_file():
                    raise ContentError(*where, f"image {target!r} not found in static/lessons/")


def load_lessons(
    directory: Path, exercise_slugs: set[str], report: LoadReport
) -> dict[str, Lesson]:
    """Parse and validate every lesson first, then write: nothing half-loaded."""
    playgrounds = _known_playgrounds()
    parsed: dict[str, dict] = {}
    orders: dict[int, Path] = {}
    for path in sorted(directory.glob("*.md")):
        data = _parse(path, exercise_slugs, playgrounds)
        if data["slug"] in parsed:
            raise ContentError(
                path,
                2,
                f"duplicate slug {data['slug']!r} (also in {parsed[data['slug']]['_path'].name})",
            )
        if data["order"] in orders:
            raise ContentError(
                path, 2, f"duplicate order {data['order']} (also in {orders[data['order']].name})"
            )
        parsed[data["slug"]] = data
        orders[data["order"]] = path
    _check_links(parsed, exercise_slugs)
    _check_claims(parsed)

    existing = {lesson.slug: lesson for lesson in Lesson.objects.all()}
    # Orders are unique: park every row out of the way before renumbering.
    for offset, lesson in enumerate(existing.values()):
        Lesson.objects.filter(pk=lesson.pk).update(order=10000 + offset)
    loaded: dict[str, Lesson] = {}
    for slug, data in parsed.items():
        values = {name: data[name] for name in FIELDS}
        found = existing.get(slug)
        if found is None:
            lesson = Lesson.objects.create(slug=slug, **values)
            report.note("lessons", "added", slug)
        else:
            lesson = found
            changed = any(
                getattr(lesson, name) != value for name, value in values.items() if name != "order"
            )
            for name, value in values.items():
                setattr(lesson, name, value)
            lesson.save()
            if changed:
                report.note("lessons", "changed", slug)
        loaded[slug] = lesson
    for slug, lesson in existing.items():
        if slug not in parsed:
            lesson.delete()
            report.note("lessons", "removed", slug)
    report.counts["lessons"] = len(loaded)
    return loaded
