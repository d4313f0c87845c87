"""Small server-rendered SVG charts (no chart library, nothing from a CDN)."""

from __future__ import annotations

from django.utils.html import escape

WIDTH, HEIGHT, PAD = 480, 180, 36


def score_chart_svg(points: list[tuple[str, float]], title: str) -> str:
    """A line of scores (0..1) over attempts, oldest first."""
    if not points:
        return ""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / max(len(points) - 1, 1)
    coords = [
        (PAD + i * step, PAD + inner_h * (1 - max(0.0, min(1.0, value))))
        for i, (_, value) in enumerate(points)
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    dots = "".join(
        f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="4"><title>{escape(label)}: {round(value * 100)}%</title></circle>'
        for (x, y), (label, value) in zip(coords, points)
    )
    grid = "".join(
        f'<text x="{PAD - 6}" y="{PAD + inner_h * (1 - frac) + 4:.1f}" text-anchor="end">{round(frac * 100)}%</text>'
        for frac in (0, 0.5, 1)
    )
    summary = ", ".join(f"{label}: {round(value * 100)}%" for label, value in points)
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(title)}: {escape(summary)}"><title>{escape(title)}</title>'
        f'<line class="axis" x1="{PAD}" y1="{PAD + inner_h}" x2="{PAD + inner_w}" y2="{PAD + inner_h}"/>'
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{PAD + inner_h}"/>{grid}'
        f'<path class="line" d="{path}"/>{dots}</svg>'
    )
