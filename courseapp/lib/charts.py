"""Small server-rendered SVG charts (no chart library, nothing from a CDN)."""

from __future__ import annotations

from django.utils.html import escape

WIDTH, HEIGHT = 440, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 30, 58  # room for every label inside the picture
LABEL_SPACING = 34  # the least room (px) between two attempts for each to carry its own labels


def score_chart_svg(points: list[tuple[str, float]], title: str) -> str:
    """Scores (0..1) over attempts, oldest first: a dot per attempt, joined by a line.

    Each attempt sits in the middle of its own slot, so one attempt is a dot in the middle (not a
    point on the axis) and no label runs off either edge. Attempts are numbered under the axis and
    their scores written above the dots while there is room; the text alternative lists them all.
    """
    if not points:
        return ""
    n = len(points)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / n
    bottom = TOP + inner_h
    coords = [
        (LEFT + slot * (i + 0.5), TOP + inner_h * (1 - max(0.0, min(1.0, value))))
        for i, (_, value) in enumerate(points)
    ]
    every = max(1, -(-LABEL_SPACING // int(slot)) if slot >= 1 else n)
    # Every few attempts, and the last one (not crowding the one before it).
    labelled = {i for i in range(0, n, every) if n - 1 - i >= every} | {n - 1}
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}: {escape(_summary(points))}">'
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{LEFT + inner_w}" y2="{bottom}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>',
    ]
    for frac in (0, 0.5, 1):
        y = TOP + inner_h * (1 - frac)
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{round(frac * 100)}%</text>'
        )
    if n > 1:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords)
        )
        out.append(f'<path class="line" d="{path}"/>')
    for i, ((x, y), (label, value)) in enumerate(zip(coords, points)):
        out.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="5"><title>Attempt {i + 1}, '
            f"{escape(label)}: {round(value * 100)}%</title></circle>"
        )
        if i in labelled:
            out.append(
                f'<text x="{x:.1f}" y="{y - 10:.1f}" text-anchor="middle">{round(value * 100)}%</text>'
            )
            out.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{i + 1}</text>')
    out.append(
        f'<text x="{LEFT + inner_w / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{'attempt' if n == 1 else 'attempts, oldest first'}</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _summary(points: list[tuple[str, float]]) -> str:
    return ", ".join(
        f"attempt {i + 1} ({label}): {round(value * 100)}%"
        for i, (label, value) in enumerate(points)
    )
