"""``{% load saga_styles %}``: the side-by-side view of a composite grading's styles
(``Report["styles"]``, sandbox/scenarios/saga_styles): each style's calm trace as a timeline."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from courseapp.lib.timeline import timeline_svg

register = template.Library()


@register.simple_tag
def style_timeline(summary: dict[str, Any], lanes: list[str] | None) -> SafeString:
    """One style's calm run drawn like every other trace (no violation to highlight: it held)."""
    return timeline_svg(summary.get("trace") or [], lanes or [])
