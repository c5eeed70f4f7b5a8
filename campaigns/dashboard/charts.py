"""Charts drawn on the server as SVG: no script (the pages' CSP allows none inline), no
network, readable without JavaScript.

:func:`small_multiples` draws one small chart per measure (messages sent, clicks, revenue), each
on its own scale with a labelled y-axis in its unit and an x-axis of dates, so that three
measures of different sizes never collapse into one line. Every day is a point that can be
focused with the keyboard (``tabindex``) and shows its value on hover and on focus (an SVG
``<title>`` for pointers and screen readers, and a label the page's CSS shows on
``:hover``/``:focus``). The charts keep their proportions (no stretching), and their text is
12 units in a viewBox 340 wide: at least 11 px wherever the chart is 312 px wide or more, as it
is on a 390 px phone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 340, 180
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 26, 30
FONT = 12
"""Text size in viewBox units (see the module's docstring for the pixels it makes)."""


@dataclass(frozen=True)
class Measure:
    """One chart: its title (with its unit), its values per day, how a value reads
    (``formatting.number``, ``formatting.money``), and its colour."""

    label: str
    values: Sequence[float | int | Decimal]
    show: Callable[[float | int | Decimal], str]
    colour: str
    key: str = ""
    """A stable id for the chart (``sent``, ``clicks``, ``revenue``)."""


def nice_top(top: float, *, whole: bool = False) -> float:
    """The y-axis' top: ``top`` rounded up to a fifth of its power of ten (120 stays 120, 59.9
    becomes 60, 5 becomes 6 for a count), 2 when there is nothing to show; for a count
    (``whole``) an even number, so that the half is a whole message."""
    if top <= 0:
        return 2.0
    power = 1.0
    while power * 10 <= top:
        power *= 10
    while power > top:
        power /= 10
    unit = max(2.0, power / 5) if whole else power / 5
    return math.ceil(round(top / unit, 9)) * unit


def _x_positions(count: int) -> list[float]:
    inner = WIDTH - LEFT - RIGHT
    if count <= 1:
        return [LEFT + inner / 2] * count
    return [LEFT + index * inner / (count - 1) for index in range(count)]


def _date_ticks(count: int) -> list[int]:
    """The indexes of the days labelled under the x-axis: at most four, first and last
    always."""
    if count <= 4:
        return list(range(count))
    return sorted({0, count // 3, (2 * count) // 3, count - 1})


def chart(
    days: Sequence[date], measure: Measure, *, day_label: Callable[[date], str]
) -> SafeString:
    """One measure's chart: its own y-axis (0, half, top, in its unit) and the days."""
    values = [float(value) for value in measure.values]
    top = nice_top(max(values, default=0), whole=all(value.is_integer() for value in values))
    bottom = HEIGHT - BOTTOM
    span = bottom - TOP
    xs = _x_positions(len(days))
    ys = [bottom - (value / top) * span for value in values]
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e3e7ee"/>'
        '<text class="y-tick" x="{}" y="{}" font-size="{}" fill="#5b6576" '
        'text-anchor="end">{}</text>',
        (
            (
                LEFT,
                _n(bottom - part * span),
                WIDTH - RIGHT,
                _n(bottom - part * span),
                LEFT - 6,
                _n(bottom - part * span + FONT / 3),
                FONT,
                measure.show(top * part),
            )
            for part in (0, 0.5, 1)
        ),
    )
    ticks = format_html_join(
        "",
        '<text class="x-tick" x="{}" y="{}" font-size="{}" fill="#5b6576" '
        'text-anchor="{}">{}</text>',
        (
            (
                _n(xs[index]),
                HEIGHT - 10,
                FONT,
                "start"
                if index == 0 and len(days) > 1
                else "end"
                if index == len(days) - 1 and len(days) > 1
                else "middle",
                day_label(days[index]),
            )
            for index in _date_ticks(len(days))
        ),
    )
    line = (
        format_html(
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>',
            measure.colour,
            " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True)),
        )
        if len(days) > 1
        else SafeString("")
    )
    points = format_html_join(
        "",
        '<g class="point" tabindex="0" role="img" aria-label="{0}"><title>{0}</title>'
        '<circle cx="{1}" cy="{2}" r="3.5" fill="{3}"/>'
        '<circle cx="{1}" cy="{2}" r="9" fill="transparent"/>'
        '<text class="tip" x="{4}" y="{5}" font-size="{6}" fill="#111827" '
        'text-anchor="{7}">{0}</text></g>',
        (
            (
                f"{day_label(day)} : {measure.show(value)}"
                if _french_colon()
                else f"{day_label(day)}: {measure.show(value)}",
                _n(x),
                _n(y),
                measure.colour,
                _n(x),
                TOP - 8,
                FONT,
                "start" if x < WIDTH / 3 else "end" if x > 2 * WIDTH / 3 else "middle",
            )
            for day, value, x, y in zip(days, measure.values, xs, ys, strict=True)
        ),
    )
    return format_html(
        '<figure class="small-chart" data-measure="{}"><figcaption>{}</figcaption>'
        '<svg viewBox="0 0 {} {}" role="group" aria-label="{}" class="chart">'
        '<line class="y-axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#9aa3b2"/>'
        '<line class="x-axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#9aa3b2"/>'
        "{}{}{}{}</svg></figure>",
        measure.key,
        measure.label,
        WIDTH,
        HEIGHT,
        measure.label,
        LEFT,
        TOP,
        LEFT,
        bottom,
        LEFT,
        bottom,
        WIDTH - RIGHT,
        bottom,
        grid,
        ticks,
        line,
        points,
    )


def _n(value: float) -> str:
    return f"{value:.1f}"


def _french_colon() -> bool:
    return (translation.get_language() or "").startswith("fr")


def small_multiples(
    days: Sequence[date], measures: Sequence[Measure], *, day_label: Callable[[date], str]
) -> SafeString:
    """One chart per measure, side by side on a wide screen and one under the other on a
    phone (the page's CSS lays them out)."""
    return format_html(
        '<div class="small-multiples">{}</div>',
        SafeString("".join(chart(days, one, day_label=day_label) for one in measures)),
    )
