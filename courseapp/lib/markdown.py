"""Markdown to safe HTML for lessons and exercise statements.

Instructors edit this content, so the rendered HTML is sanitised with nh3
after rendering; code is highlighted with Pygments using CSS classes (the
Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

import html as html_lib
import re

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from courseapp.lib.claims import LINE as CLAIM_LINE
from courseapp.lib.content import slugify_heading

_FORMATTER = HtmlFormatter(nowrap=True)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "div": {"class"},
    "span": {"class"},
    "pre": {"class"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
# Content links: lesson:SLUG#anchor, exercise:SLUG and diagrams/NAME.svg.
LINK_SCHEMES = {"http", "https", "mailto"}


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, _FORMATTER)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"highlight": _highlight, "html": False}).enable("table")

    def heading_open(renderer, tokens, idx, options, env):
        token = tokens[idx]
        if token.tag in ("h2", "h3"):
            text = tokens[idx + 1].content
            anchor = slugify_heading(text)
            token.attrSet("id", anchor)
            if token.tag == "h2":
                env.setdefault("toc", []).append({"id": anchor, "text": text})
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)
    return md


_MD = _parser()


def resolve_link(href: str) -> str:
    if href.startswith("lesson:"):
        slug, _, anchor = href[len("lesson:") :].partition("#")
        return f"/lessons/{slug}/" + (f"#{anchor}" if anchor else "")
    if href.startswith("exercise:"):
        return f"/exercises/{href[len('exercise:') :]}/"
    if href.startswith("diagrams/"):
        return f"/static/lessons/{href}"
    return href


def content_links(text: str) -> list[tuple[int, str]]:
    """Every link and image target in the Markdown, with its line (0-based)."""
    found = []
    for token in _MD.parse(text):
        for child in [token, *(token.children or [])]:
            target = child.attrGet("href") or child.attrGet("src")
            if target:
                found.append(((token.map or [0])[0], str(target)))
    return found


def render_markdown(text: str) -> tuple[str, list[dict]]:
    """Return (sanitised HTML, table of contents of the ## headings)."""
    env: dict = {}
    tokens = _MD.parse(text, env)
    for token in tokens:
        for child in token.children or []:
            for attr in ("href", "src"):
                if value := child.attrGet(attr):
                    child.attrSet(attr, resolve_link(str(value)))
    raw = _MD.renderer.render(tokens, _MD.options, env)
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return clean, env.get("toc", [])


# `::: playground KEY [TOGGLE=on|off ...]`: the toggles, if any, are the state the playground
# starts in on this lesson's page (before the reader runs anything).
PLAYGROUND_MARKER = re.compile(
    r"^::: playground ([a-z0-9-]+)((?:[ \t]+[a-z0-9_]+=(?:on|off))*)[ \t]*$", re.M
)
_PLAYGROUND_TOKEN = "PLAYGROUND::{}"
_CLAIM_TOKEN = "CLAIM::{}"
_PART_HTML = re.compile(r"<p>(PLAYGROUND|CLAIM)::([a-z0-9-]+)</p>")


def mark_playgrounds(text: str) -> str:
    """Swap `::: playground KEY` lines for a token that survives rendering."""
    # Blank lines around the token keep it a paragraph of its own.
    return PLAYGROUND_MARKER.sub(lambda m: "\n" + _PLAYGROUND_TOKEN.format(m.group(1)) + "\n", text)


def playground_presets(text: str) -> dict[str, dict[str, bool]]:
    """{KEY: {toggle: on}} for every `::: playground KEY TOGGLE=on|off ...` line that sets toggles."""
    presets: dict[str, dict[str, bool]] = {}
    for match in PLAYGROUND_MARKER.finditer(text):
        settings = dict(word.split("=") for word in match.group(2).split())
        if settings:
            presets.setdefault(match.group(1), {n: v == "on" for n, v in settings.items()})
    return presets


def mark_claims(text: str) -> str:
    """Swap each `::: try ...` line for a token naming its position among the body's claims
    (see courseapp.lib.claims), so the page can put the claim's preset in its place."""
    lines, count = [], 0
    for line in text.split("\n"):
        if CLAIM_LINE.match(line):
            line = "\n" + _CLAIM_TOKEN.format(count) + "\n"
            count += 1
        lines.append(line)
    return "\n".join(lines)


def split_parts(html: str) -> list[tuple[str, str]]:
    """Split rendered HTML into ("html", chunk), ("playground", key) and ("claim", index) parts."""
    parts: list[tuple[str, str]] = []
    last = 0
    for match in _PART_HTML.finditer(html):
        parts.append(("html", html[last : match.start()]))
        parts.append((match.group(1).lower(), match.group(2)))
        last = match.end()
    parts.append(("html", html[last:]))
    return [part for part in parts if part[1]]


def plain_text(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def pygments_css() -> str:
    return _FORMATTER.get_style_defs("pre code")


def render_html(text: str) -> str:
    """Exercise statements and hints: the same pipeline, without a table of contents."""
    html, _toc = render_markdown(text)
    return html
