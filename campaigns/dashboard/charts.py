"""Charts drawn on the server as SVG: no script, no network, readable without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD = 720, 220, 32


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | int | Decimal]
    colour: str


def _scale(values: Sequence[float], top: float) -> list[float]:
    return [
        HEIGHT - PAD - (value / top) * (HEIGHT - 2 * PAD) if top else HEIGHT - PAD
        for value in values
    ]


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str) -> SafeString:
    """A responsive SVG line chart; each series is scaled to its own maximum (labelled)."""
    count = max(len(labels), 1)
    step = (WIDTH - 2 * PAD) / max(count - 1, 1)
    xs = [PAD + index * step for index in range(count)]
    lines = []
    for index, one in enumerate(series):
        values = [float(value) for value in one.values]
        top = max(values, default=0)
        ys = _scale(values, top)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))
        lines.append(
            format_html(
                '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'
                '<text x="{}" y="{}" fill="{}" font-size="12">{} (max {})</text>',
                one.colour,
                points,
                PAD + index * 200,
                14,
                one.colour,
                one.label,
                f"{top:g}",
            )
        )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" fill="#5b6576" text-anchor="middle">{}</text>',
        (
            (f"{x:.1f}", HEIGHT - 8, label)
            for i, (x, label) in enumerate(zip(xs, labels, strict=False))
            if count <= 10 or i % max(count // 7, 1) == 0
        ),
    )
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart" '
        'preserveAspectRatio="none"><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e3e7ee"/>'
        "{}{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        PAD,
        HEIGHT - PAD,
        WIDTH - PAD,
        HEIGHT - PAD,
        SafeString("".join(lines)),
        ticks,
    )
