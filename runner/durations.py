"""Durations as users write them: ``250ms``, ``30s``, ``5m``, ``1h``, ``1h30m``, ``1.5s``; a bare number is
seconds. Units come in decreasing order, each at most once. The result is float seconds, never negative."""

from __future__ import annotations

import math
import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER = ("h", "m", "s", "ms")
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_BARE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
EXAMPLES = "write e.g. 250ms, 30s, 5m, 1h or 1h30m"


MAX_DURATION = 366 * 24 * 3600.0  # a year: any longer deadline or delay is a typo, not a plan


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``. Raises ``ValueError`` with a message fit for users (callers wrap it).

    Zero is returned as 0.0; whether zero is allowed is the caller's decision. Anything longer than a
    year (including numbers beyond float range) is refused, so no deadline can be infinite.
    """
    seconds = _parse(text)
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError("a duration longer than a year is not accepted")
    return seconds


def _parse(text: str | int | float) -> float:
    if isinstance(text, bool):
        raise ValueError(f"expected a duration, got a boolean ({str(text).lower()})")
    if isinstance(text, int | float):
        try:
            seconds = float(text)
        except OverflowError:
            raise ValueError("a duration longer than a year is not accepted") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a duration cannot be negative or infinite, got {seconds:g}")
        return seconds
    written = text.strip()
    if written.startswith("-"):
        raise ValueError(f"a duration cannot be negative, got {text!r}")
    if _BARE.fullmatch(written):
        return float(written)  # a too-long one becomes inf, refused by parse_duration
    total = 0.0
    pos = 0
    last = -1
    while pos < len(written):
        m = _PART.match(written, pos)
        if m is None:
            raise ValueError(f"cannot read {text!r} as a duration")
        rank = _ORDER.index(m.group(2))
        if rank <= last:
            raise ValueError(f"units in {text!r} must go from hours down to milliseconds, each once")
        last = rank
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not written:
        raise ValueError("empty duration")
    return total


def format_duration(seconds: float) -> str:
    """``5400.0`` -> ``"1h30m"``, ``0.25`` -> ``"250ms"``: the inverse of ``parse_duration`` for messages."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    rest = seconds - (int(seconds) - whole)
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)
