"""A counterexample trace as a server-rendered SVG sequence diagram.

Services are columns and steps go down the page, each step's words on their own lines above its
marker, so no label is ever cut: a label wraps to the diagram's width (the labels are set in a
monospace font, so a line's width is known here). Calls/replies (steps with "to") and message
deliveries (publish -> deliver, matched by message id) are arrows; a delivery says which message it
carries and the order (or other business id) that message is about. Faults are marked by colour
*and* by a word in the label. The steps that involve what the broken invariant names are
highlighted (a band and a bar, and a legend saying what was highlighted).

Colours come from classes in site.css and timeline.css: the Content-Security-Policy forbids inline
styles.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from html import escape

from django.utils.safestring import SafeString, mark_safe

# The summary of a failed grading describes its faults with this function: the fault line under a
# verdict uses it too, so the two always say the same words.
from sandbox.explore import _fault_text

GUTTER = 56  # the time column
MIN_LANE = 104
STACKED_GUTTER, STACKED_MIN_LANE = 48, 84
CHAR = 7.3  # width of one character of the 12px monospace label font, rounded up
LINE = 15  # one line of a label
MARK = 22  # the marker row under a label (stacked)
ROW = 26  # the least height of a step (side by side)
MIN_WIDTH = 300  # stacked: as narrow as a phone's verdict
SIDE_WIDTH = 1040  # side by side: what a desktop verdict has room for
SIDE_MIN_CHARS, SIDE_MAX_CHARS = 40, 72
MAX_ROWS = 400
MAX_LABEL = 1000  # a label longer than this (never seen in practice) points to the table
HEADER_EVERY = 20  # lane names are repeated so a long trace can be read without scrolling back

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
# An id the simulator makes up: letters, then dash-separated parts, one of them with a digit
# (ord-aa3a1e, trip-502153, t-7c65c1, order-1, ch-73e9648e-1).
_ID = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:-[a-z0-9]+)+(?![\w-])")
_BUSINESS_ID = re.compile(r"\b(\w+_id)=([^,\s)]+)")


def fault_text(fault) -> str:
    """One fault of a counterexample's schedule, in the words of the grading summary."""
    try:
        return _fault_text(fault)
    except (KeyError, TypeError, ValueError, AttributeError):
        if isinstance(fault, dict):
            return f"{fault.get('kind', '?')} at {fault.get('site', '?')}"
        return str(fault)


def lanes_for(trace: list[dict], lanes: list[str]) -> list[str]:
    out = [lane for lane in lanes if isinstance(lane, str)]
    for step in trace:
        for name in (step.get("service"), step.get("to")):
            if isinstance(name, str) and name and name not in out:
                out.append(name)
    return out


def involved_ids(violations) -> list[str]:
    """The ids a broken invariant names: the first id of each problem it lists."""
    found: list[str] = []
    for violation in violations or []:
        detail = violation.get("detail") if isinstance(violation, dict) else None
        for problem in str(detail or "").split("; "):
            match = _ID.search(problem)
            if match and match.group(0) not in found:
                found.append(match.group(0))
    return found


def _carries(step: dict) -> str:
    """What a published message is about: its first business id (order_id=ord-1), else its type."""
    detail = str(step.get("detail") or "")
    match = _BUSINESS_ID.search(detail)
    if match:
        return f"{match.group(1)}={match.group(2)}"
    return detail.split(" ", 1)[0]


def annotate(trace: list, violations=None) -> list[dict]:
    """The trace's steps with more keys for the page (the stored report is not changed):
    ``about`` (for a delivery: what its message is about, from the message's publish step),
    ``carries`` (for a step of a message: the message, and for a delivery what it is about) and
    ``involved`` (the step involves an id the broken invariant names: it mentions
    it, handles a message about it, or follows such a step in the same call)."""
    ids = involved_ids(violations)
    words = (
        re.compile("|".join(rf"(?<![\w.-]){re.escape(i)}(?![\w-])" for i in ids)) if ids else None
    )
    about: dict[str, str] = {}
    hot_messages: set[str] = set()
    out: list[dict] = []
    previous: dict | None = None
    for raw in trace:
        if not isinstance(raw, dict):
            continue
        step = dict(raw)
        message = step.get("message_id")
        message = message if isinstance(message, str) and message else None
        kind = step.get("kind")
        if kind == "publish" and message and message not in about:
            about[message] = _carries(step)
        step["about"] = about.get(message, "") if message and kind == "deliver" else ""
        step["carries"] = (
            f"message {message}" + (f" ({step['about']})" if step["about"] else "")
            if message
            else ""
        )
        mentions = bool(words and words.search(str(step.get("detail") or "")))
        if mentions and message:
            hot_messages.add(message)
        if message:
            involved = mentions or message in hot_messages
        else:
            # A call and what it causes share a time and a correlation id, and carry no message.
            same_call = (
                previous is not None
                and previous["involved"]
                and previous.get("t") == step.get("t")
                and previous.get("correlation_id") == step.get("correlation_id")
                and step.get("correlation_id")
            )
            involved = mentions or bool(same_call)
        step["involved"] = bool(words) and involved
        out.append(step)
        previous = step
    return out


def _label(step: dict) -> str:
    kind = str(step.get("kind") or "")
    tone, word = KINDS.get(kind, ("plain", kind))
    word = word.upper() if tone in ("bad", "warn") else word
    service = str(step.get("service") or "?")
    where = f"{service} → {step['to']}" if step.get("to") else service
    text = f"{word} {where}: " + " ".join(str(step.get("detail") or "").split())
    if step.get("carries"):
        text += f" [{step['carries']}]"
    if len(text) > MAX_LABEL:
        text = text[: MAX_LABEL - 40] + " … (the table below has the whole step)"
    return text


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]


def timeline_svg(trace: list[dict], lanes: list[str], *, violations=None) -> SafeString:
    """The trace drawn twice, and timeline.css shows one: on a wide screen each step's words are
    to the right of the lanes (``timeline-side``), on a narrow one above its marker, across the
    whole drawing (``timeline-stacked``), so a phone reads every label without scrolling
    sideways more than the lanes need. Both wrap their labels; neither cuts one."""
    steps = annotate(trace, violations)[:MAX_ROWS]
    ids = involved_ids(violations)
    columns = lanes_for(steps, lanes)
    hidden = len(trace) - MAX_ROWS if len(trace) > MAX_ROWS else 0
    return mark_safe(
        _draw(steps, columns, ids, hidden, side=True)
        + _draw(steps, columns, ids, hidden, side=False)
    )


def _draw(steps: list[dict], columns: list[str], ids: list[str], hidden: int, *, side: bool) -> str:
    # A phone has room for three narrow lanes; each lane is at least as wide as its name.
    gutter, least = (GUTTER, MIN_LANE) if side else (STACKED_GUTTER, STACKED_MIN_LANE)
    x_of: dict[str, int] = {}
    lanes_right = gutter
    for name in columns:
        lane_width = max(least, round(len(name) * 8 + 16))
        x_of[name] = lanes_right + lane_width // 2
        lanes_right += lane_width
    if side:
        text_x = lanes_right + 12
        chars = max(SIDE_MIN_CHARS, min(SIDE_MAX_CHARS, int((SIDE_WIDTH - text_x - 8) // CHAR)))
        width = text_x + int(chars * CHAR) + 10
    else:
        text_x = 10
        width = max(MIN_WIDTH, lanes_right + 8)
        # Words wrap to what a phone shows of the drawing, even when more lanes than fit make
        # the drawing wider: reading a step never needs a sideways scroll, only seeing far lanes.
        chars = int((MIN_WIDTH - 16) // CHAR)
    uid = f"tl{next(_ids)}"

    body: list[str] = []
    y = 0
    if ids:
        legend = _wrap(
            "Highlighted: the steps that involve "
            + ", ".join(ids)
            + ", named where the invariant broke.",
            int(((width if side else MIN_WIDTH) - 28) // CHAR),
        )
        body.append(
            f'<rect x="8" y="10" width="6" height="{LINE * len(legend)}" class="tl-hit-bar"/>'
        )
        body.append(_text(20, 10, legend, "tl-legend"))
        y = 10 + LINE * len(legend) + 6
    header_ys = []
    publishers: dict[str, str] = {}
    for row, step in enumerate(steps):
        if row % HEADER_EVERY == 0:
            header_ys.append(y)
            y += 30
        kind = str(step.get("kind") or "")
        tone, _word = KINDS.get(kind, ("plain", kind))
        service = str(step.get("service") or "")
        x = x_of.get(service, gutter)
        lines = _wrap(_label(step), chars)
        if side:  # the words beside the marker, from its height down
            height = max(ROW, LINE * len(lines) + 11)
            ym, text_top = y + 12, y + 4
        else:  # the words above the marker
            height = LINE * len(lines) + MARK
            ym, text_top = y + LINE * len(lines) + MARK // 2, y
        row_class = "tl-row tl-hit" if step["involved"] else "tl-row"
        out = [f'<g class="{row_class}">']
        if step["involved"]:
            out.append(
                f'<rect x="0" y="{y}" width="{width}" height="{height}" class="tl-hit-band"/>'
            )
            out.append(f'<rect x="0" y="{y}" width="5" height="{height}" class="tl-hit-bar"/>')
        message_id = step.get("message_id")
        if kind == "publish" and message_id:
            publishers[message_id] = service
        source = publishers.get(message_id) if kind == "deliver" and message_id else None
        if source and source != service and source in x_of:
            out.append(_arrow(x_of[source], x, ym, uid, "tl-msg tl-dashed"))
        target = step.get("to")
        if target in x_of and target != service:
            out.append(_arrow(x, x_of[target], ym, uid, f"tl-msg tl-{tone}"))
        out.append(
            f'<text x="{gutter - 8}" y="{ym + 4}" text-anchor="end" class="tl-time">'
            f"{escape(str(step.get('t', '')))}</text>"
        )
        out.append(_marker(x, ym, tone, kind))
        out.append(_text(text_x, text_top, lines, f"tl-label tl-text-{tone}"))
        out.append("</g>")
        body.append("".join(out))
        y += height
    if hidden:
        note = f"… {hidden} more steps not drawn (the table lists them)"
        body.append(_text(10, y, _wrap(note, chars), "tl-label"))
        y += 2 * LINE + 4
    height = y + 10

    first = header_ys[0] + 26 if header_ys else 0
    lane_lines = [
        f'<line x1="{x}" y1="{first}" x2="{x}" y2="{height - 6}" class="tl-lane"/>'
        for x in x_of.values()
    ]
    headers = []
    for hy in header_ys:
        headers.append(f'<rect x="0" y="{hy}" width="{width}" height="26" class="tl-header"/>')
        headers.append(f'<text x="8" y="{hy + 18}" class="tl-lane-name">t (ms)</text>')
        for name, x in x_of.items():
            headers.append(
                f'<text x="{x}" y="{hy + 18}" text-anchor="middle" class="tl-lane-name">'
                f"{escape(name)}</text>"
            )
        if side:
            headers.append(
                f'<text x="{text_x}" y="{hy + 18}" class="tl-lane-name">what happened</text>'
            )
    described = f"{len(steps)} steps across {', '.join(columns)}"
    if ids:
        described += f"; the steps that involve {', '.join(ids)} are highlighted"
    layout = "timeline-side" if side else "timeline-stacked"
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline {layout}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{uid}-title {uid}-desc">',
            f'<title id="{uid}-title">Counterexample timeline</title>',
            f'<desc id="{uid}-desc">{escape(described)}; the table below lists the same steps '
            "as text.</desc>",
            f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M 0 0 L 10 5 L 0 10 z" class="tl-arrowhead"/></marker></defs>',
            *lane_lines,
            *body,
            *headers,
            "</svg>",
        ]
    )


def _text(x: int, top: int, lines: list[str], css: str) -> str:
    spans = "".join(
        f'<tspan x="{x}" y="{top + LINE * (i + 1) - 3}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text class="{css}">{spans}</text>'


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
