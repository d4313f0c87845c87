"""Exercise statements share the lessons' Markdown pipeline (markdown-it-py,
Pygments with CSS classes, nh3 sanitising); exercises only need the HTML."""

from __future__ import annotations

from lessons.markdown import render_markdown as _render


def render_markdown(text: str) -> str:
    html, _toc = _render(text)
    return html
