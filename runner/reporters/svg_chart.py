"""One inline SVG line chart of one ``Series``: pure, deterministic, no script and no external resource.

Layout: one evenly spaced slot per report (oldest left), a y axis of 0-100 % for rates or fitted to the
values (and the threshold) otherwise, a dashed line at the required value, and one marker per value whose
shape and colour say how the check ended (so colour is never the only cue):

    passed        filled green circle
    failed        red diamond
    inconclusive  hollow amber circle (also error: the gate did not finish)
    (no check)    filled blue circle (a success rate computed from the runs)

A gap (no value: the gate or the check is absent, or it has no value) breaks the line and is shaded, with a
tooltip saying why; it is never drawn as 0. Every marker and gap has a ``<title>`` tooltip (date, value,
status); the ``<svg>`` has ``role="img"``, an ``aria-label`` and a ``<title>``. All text is HTML-escaped
here; coordinates are printed with one decimal so equal input gives byte-identical output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from runner.model import CheckStatus
from runner.trend import Point, Scale, Series

__all__ = ["MARKER_COLOURS", "format_value", "line_chart"]

WIDTH, HEIGHT = 480, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 54, 26, 14, 34
_PLOT_W, _PLOT_H = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
_CHAR_W = 6.8  # width of one character of a 12px axis label, roughly

MARKER_COLOURS = {
    CheckStatus.PASSED.value: "#1a7f37",
    CheckStatus.FAILED.value: "#cf222e",
    CheckStatus.INCONCLUSIVE.value: "#9a6700",
    CheckStatus.ERROR.value: "#9a6700",
    None: "#0969da",
}


@dataclass(frozen=True, slots=True)
class _Axis:
    low: float
    high: float
    ticks: tuple[float, ...]

    def y(self, value: float) -> float:
        span = self.high - self.low
        return _TOP + _PLOT_H * (1 - (value - self.low) / span)


def format_value(value: float, scale: Scale) -> str:
    """A value as the axis shows it: ``83.3%`` for rates, at most 4 significant digits otherwise."""
    if scale is Scale.PERCENT:
        text = f"{value * 100:.1f}".removesuffix(".0")
        return f"{text}%"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return "0" if text in ("-0", "0.0") else text


def _nice_step(span: float, count: int = 4) -> float:
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _axis(series: Series) -> _Axis:
    if series.scale is Scale.PERCENT:
        return _Axis(0.0, 1.0, (0.0, 0.25, 0.5, 0.75, 1.0))
    values = series.values + ([series.threshold] if series.threshold is not None else [])
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if low >= 0 and high > 0 and low <= high * 0.25:
        low = 0.0  # values near zero: start at zero rather than exaggerate the changes
    if high - low < 1e-9:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = _nice_step(high - low)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = tuple(start + i * step for i in range(round((end - start) / step) + 1))
    return _Axis(start, end, ticks)


def _x(index: int, count: int) -> float:
    if count == 1:
        return _LEFT + _PLOT_W / 2
    return _LEFT + _PLOT_W * index / (count - 1)


def _slot(count: int) -> float:
    return _PLOT_W / (count - 1) if count > 1 else _PLOT_W / 4


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _x_labels(dates: Sequence[str]) -> list[tuple[str, float]]:
    """The dates written under the axis and where (centred on their point, kept inside the chart): every
    ``stride``-th report so that no two overlap, always the first and the last."""
    count = len(dates)
    width = max(len(d) for d in dates) * _CHAR_W
    shift = max(0.0, width / 2 + 2 - min(_LEFT, _RIGHT))  # how far keeping an edge label inside moves it
    room = width + 12 + shift
    stride = max(1, math.ceil(room / _slot(count))) if count > 1 else 1
    indexes = list(range(0, count, stride))
    if indexes[-1] != count - 1:
        if (count - 1 - indexes[-1]) * _slot(count) < room and len(indexes) > 1:
            indexes.pop()
        indexes.append(count - 1)
    low, high = width / 2 + 2, WIDTH - width / 2 - 2
    return [(dates[i], min(max(_x(i, count), low), high)) for i in indexes]


def _marker(x: float, y: float, status: str | None, tooltip: str, *, r: float) -> str:
    """A marker of radius ``r``: its shape and colour say how the check ended (module docstring)."""
    colour = MARKER_COLOURS.get(status, MARKER_COLOURS[None])
    title = f"<title>{escape(tooltip)}</title>"
    if status == CheckStatus.FAILED.value:
        h = r * 1.4  # a diamond looks as big as a circle when its half-diagonal is about 1.4 r
        d = f"M{_n(x)} {_n(y - h)}L{_n(x + h)} {_n(y)}L{_n(x)} {_n(y + h)}L{_n(x - h)} {_n(y)}Z"
        return f'<path class="pt failed" d="{d}" fill="{colour}">{title}</path>'
    if status in (CheckStatus.INCONCLUSIVE.value, CheckStatus.ERROR.value):
        return (
            f'<circle class="pt {status}" cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="#fff"'
            f' stroke="{colour}" stroke-width="2">{title}</circle>'
        )
    css = "passed" if status == CheckStatus.PASSED.value else "computed"
    return f'<circle class="pt {css}" cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}">{title}</circle>'


def _tooltip(date: str, point: Point) -> str:
    status = f" — {point.status}" if point.status else ""
    return f"{date}: {point.text}{status}"


def line_chart(series: Series, dates: Sequence[str], *, label: str) -> str:
    """The chart of ``series`` (one point per entry of ``dates``); ``label`` is its accessible name."""
    if len(dates) != len(series.points):
        raise ValueError(f"{len(series.points)} points for {len(dates)} dates")
    axis = _axis(series)
    count = len(dates)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}"'
        f' preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]
    # Grid and y labels.
    for tick in axis.ticks:
        y = _n(axis.y(tick))
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y}" x2="{WIDTH - _RIGHT}" y2="{y}" stroke="#d8dee4"/>'
        )
        text = escape(format_value(tick, series.scale))
        parts.append(
            f'<text class="ylabel" x="{_LEFT - 6}" y="{y}" dy="0.32em" text-anchor="end">{text}</text>'
        )
    bottom = _n(_TOP + _PLOT_H)
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{WIDTH - _RIGHT}" y2="{bottom}"'
        ' stroke="#8c959f"/>'
    )
    for date, x in _x_labels(dates) if dates else []:
        parts.append(
            f'<text class="xlabel" x="{_n(x)}" y="{_n(HEIGHT - 10)}" text-anchor="middle">'
            f"{escape(date)}</text>"
        )
    # Gaps: shaded slots with the reason, never a point at 0.
    width = min(_slot(count) * 0.7, 24.0)
    for index, point in enumerate(series.points):
        if point.value is None:
            x = _x(index, count) - width / 2
            parts.append(
                f'<rect class="gap" x="{_n(x)}" y="{_TOP}" width="{_n(width)}" height="{_PLOT_H}"'
                f' fill="#8c959f" fill-opacity="0.18">'
                f"<title>{escape(_tooltip(dates[index], point))}</title></rect>"
            )
    # Threshold.
    if series.threshold is not None and axis.low <= series.threshold <= axis.high:
        y = _n(axis.y(series.threshold))
        parts.append(
            f'<line class="threshold" x1="{_LEFT}" y1="{y}" x2="{WIDTH - _RIGHT}" y2="{y}"'
            f' stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4">'
            f"<title>required {escape(series.required or '')}</title></line>"
        )
    # The line, broken at every gap, then the markers on top.
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, point in enumerate(series.points):
        if point.value is None:
            segment = []
            continue
        if not segment:
            segments.append(segment)
        segment.append(f"{_n(_x(index, count))},{_n(axis.y(point.value))}")
    for points in segments:
        if len(points) > 1:
            parts.append(
                f'<polyline class="line" points="{" ".join(points)}" fill="none" stroke="#57606a"'
                f' stroke-width="2" stroke-linejoin="round"/>'
            )
    radius = 4.0 if count <= 30 else 3.0  # dense histories: smaller markers that do not overlap
    for index, point in enumerate(series.points):
        if point.value is not None:
            parts.append(
                _marker(
                    _x(index, count),
                    axis.y(point.value),
                    point.status,
                    _tooltip(dates[index], point),
                    r=radius,
                )
            )
    parts.append("</svg>")
    return "".join(parts)
