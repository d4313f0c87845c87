"""A counterexample trace as a server-rendered SVG sequence diagram.

Services are columns, steps go down the page, calls/replies (steps with "to")
and message deliveries (publish -> deliver, matched by message id) are arrows.
Faults are marked by colour *and* by a word in the label. Colours come from
classes in site.css: the Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

import itertools
from html import escape

from django.utils.safestring import SafeString, mark_safe

LANE_WIDTH = 132
GUTTER = 64
ROW = 26
TOP = 44
LABEL_WIDTH = 680
MAX_ROWS = 400
MAX_LABEL = 90

# kind -> (css class, word shown in the label)
KINDS = {
    "crash": ("bad", "CRASH"),
    "timeout": ("bad", "TIMEOUT"),
    "dlq": ("bad", "DEAD LETTER"),
    "error": ("bad", "ERROR"),
    "conflict": ("bad", "CONFLICT"),
    "duplicate": ("warn", "DUPLICATE"),
    "retry": ("warn", "RETRY"),
    "delay": ("warn", "DELAYED"),
    "blocked": ("warn", "DOWN"),
    "expired": ("warn", "EXPIRED"),
    "commit": ("ok", "commit"),
    "publish": ("msg", "publish"),
    "deliver": ("msg", "deliver"),
    "call": ("msg", "call"),
    "reply": ("msg", "reply"),
}
_ids = itertools.count(1)


def lanes_for(trace: list[dict], lanes: list[str]) -> list[str]:
    out = [lane for lane in lanes if isinstance(lane, str)]
    for step in trace:
        for name in (step.get("service"), step.get("to")):
            if isinstance(name, str) and name and name not in out:
                out.append(name)
    return out


def _short(text, limit=MAX_LABEL) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline_svg(trace: list[dict], lanes: list[str]) -> SafeString:
    steps = [s for s in trace if isinstance(s, dict)][:MAX_ROWS]
    columns = lanes_for(steps, lanes)
    x_of = {name: GUTTER + LANE_WIDTH * i + LANE_WIDTH // 2 for i, name in enumerate(columns)}
    label_x = GUTTER + LANE_WIDTH * len(columns) + 12
    width = label_x + LABEL_WIDTH
    height = TOP + ROW * len(steps) + 24
    uid = f"tl{next(_ids)}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{uid}-title {uid}-desc">',
        f'<title id="{uid}-title">Counterexample timeline</title>',
        f'<desc id="{uid}-desc">{len(steps)} steps across {escape(", ".join(columns))}; '
        "the table below lists the same steps as text.</desc>",
        f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="tl-arrowhead"/></marker></defs>',
    ]
    for name, x in x_of.items():
        out.append(
            f'<text x="{x}" y="20" text-anchor="middle" class="tl-lane-name">{escape(_short(name, 18))}</text>'
        )
        out.append(f'<line x1="{x}" y1="28" x2="{x}" y2="{height - 10}" class="tl-lane"/>')
    out.append('<text x="8" y="20" class="tl-lane-name">t (ms)</text>')
    publishers: dict[str, str] = {}
    for row, step in enumerate(steps):
        y = TOP + ROW * row
        kind = str(step.get("kind") or "")
        tone, word = KINDS.get(kind, ("plain", kind))
        service = step.get("service") if step.get("service") in x_of else None
        x = x_of.get(service, GUTTER)
        message_id = step.get("message_id")
        if kind == "publish" and message_id:
            publishers[message_id] = service
        source = publishers.get(message_id) if kind == "deliver" and message_id else None
        if source and source != service and source in x_of:
            out.append(_arrow(x_of[source], x, y, uid, "tl-msg tl-dashed"))
        target = step.get("to")
        if target in x_of and target != service:
            out.append(_arrow(x, x_of[target], y, uid, f"tl-msg tl-{tone}"))
        out.append(
            f'<text x="{GUTTER - 8}" y="{y + 4}" text-anchor="end" class="tl-time">{escape(str(step.get("t", "")))}</text>'
        )
        out.append(_marker(x, y, tone, kind))
        label = f"{word.upper() if tone in ('bad', 'warn') else word}: {service or step.get('service') or '?'} · {step.get('detail') or ''}"
        out.append(
            f'<text x="{label_x}" y="{y + 4}" class="tl-label tl-text-{tone}">{escape(_short(label))}</text>'
        )
    if len(trace) > MAX_ROWS:
        out.append(
            f'<text x="8" y="{height - 6}" class="tl-label">… {len(trace) - MAX_ROWS} more steps not drawn</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))


def _arrow(x1: int, x2: int, y: int, uid: str, css: str) -> str:
    end = x2 - 7 if x2 > x1 else x2 + 7
    return (
        f'<line x1="{x1}" y1="{y}" x2="{end}" y2="{y}" class="{css}" '
        f'marker-end="url(#{uid}-arrow)"/>'
    )


def _marker(x: int, y: int, tone: str, kind: str) -> str:
    if kind == "crash":
        return (
            f'<path d="M {x - 6} {y - 6} L {x + 6} {y + 6} M {x + 6} {y - 6} L {x - 6} {y + 6}" '
            f'class="tl-cross tl-{tone}"/>'
        )
    if tone in ("bad", "warn"):
        return f'<rect x="{x - 6}" y="{y - 6}" width="12" height="12" class="tl-dot tl-{tone}"/>'
    return f'<circle cx="{x}" cy="{y}" r="5" class="tl-dot tl-{tone}"/>'


def load_svg(series: list, bucket_ms: int = 100) -> SafeString:
    """Calls per time bucket (the retry storm): a bar chart, also described in text."""
    points = [
        (int(t), int(n))
        for t, n in (p for p in series if isinstance(p, (list, tuple)) and len(p) == 2)
        if isinstance(t, (int, float)) and isinstance(n, (int, float))
    ][:600]
    if not points:
        return mark_safe("")
    last = max(t for t, _ in points)
    peak = max(n for _, n in points) or 1
    buckets = last // bucket_ms + 1
    bar = max(2, min(24, 720 // buckets))
    width, height, left, bottom = max(400, 48 + bar * buckets + 10), 150, 48, 130
    uid = f"ld{next(_ids)}"
    busiest = max(points, key=lambda p: p[1])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="load-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{uid}-title">',
        f'<title id="{uid}-title">Calls per {bucket_ms} ms; the busiest window had {busiest[1]} calls at '
        f"t={busiest[0]} ms</title>",
        f'<line x1="{left}" y1="{bottom}" x2="{width - 4}" y2="{bottom}" class="tl-lane"/>',
        f'<text x="{left - 6}" y="{bottom - 100 + 4}" text-anchor="end" class="tl-time">{peak}</text>',
        f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end" class="tl-time">0</text>',
        f'<text x="{left}" y="{bottom + 16}" class="tl-time">t=0</text>',
        f'<text x="{width - 4}" y="{bottom + 16}" text-anchor="end" class="tl-time">t={last + bucket_ms} ms</text>',
        f'<text x="{left}" y="12" class="tl-time">calls per {bucket_ms} ms</text>',
    ]
    for t, n in points:
        h = max(1, round(100 * n / peak))
        x = left + (t // bucket_ms) * bar
        out.append(
            f'<rect x="{x}" y="{bottom - h}" width="{max(1, bar - 1)}" height="{h}" class="load-bar">'
            f"<title>t={t} ms: {n} calls</title></rect>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))
