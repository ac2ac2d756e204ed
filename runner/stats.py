"""Pure statistics for gating noisy agent evaluations: intervals, an exact test, and two decision rules.

An agent that passes 27 of 30 runs today and 24 of 30 tomorrow may not have regressed: with so few runs a
rate wobbles by several points on its own. This module answers "is the drop real?" without numpy or scipy.

- ``wilson_interval``: the Wilson score interval for one success rate (Wilson 1927).
- ``newcombe_difference``: Newcombe's hybrid score interval for a difference of two rates, built from
  the two Wilson intervals (Newcombe 1998, method 10).
- ``fisher_one_sided``: the exact one-sided Fisher test p-value for "the current rate is lower than the
  baseline's", summed exactly over integers.
- ``decide_drop`` / ``decide_rate``: PASS / FAIL / INCONCLUSIVE for a relative check (an allowed drop
  from a baseline) and an absolute one (at least a threshold), in a ``strict`` or a ``lenient`` mode.
- ``unstable``: a scenario that both passed and failed.

Conventions:

- Rates, drops, thresholds and interval ends are fractions of 1 (0.05 is 5 percentage points; 0.85 is
  85%), as everywhere else in regate. A drop is ``baseline rate - current rate``: positive is worse.
- Two-sided at ``confidence`` (the default for intervals): each end misses with probability
  ``(1 - confidence) / 2``. One-sided at ``confidence`` (``Sided.ONE``): the lower end alone is a lower
  confidence bound at ``confidence`` and the upper end alone an upper bound at ``confidence``; the pair is
  the two-sided interval at ``1 - 2 * (1 - confidence)`` (a 0.95 one-sided pair is a 0.90 interval).
- The decision rules compare one one-sided bound at ``confidence`` against the limit (the question they
  answer is one-sided: "is the drop beyond the limit?"), and display the two-sided interval at
  ``confidence`` in their reasons. The two differ by design; a reason names the bound that decided.

References:

- E. B. Wilson (1927). Probable inference, the law of succession, and statistical inference. Journal of
  the American Statistical Association 22:209-212.
- R. G. Newcombe (1998a). Two-sided confidence intervals for the single proportion: comparison of seven
  methods. Statistics in Medicine 17:857-872 (method 3 is Wilson's).
- R. G. Newcombe (1998b). Interval estimation for the difference between independent proportions:
  comparison of eleven methods. Statistics in Medicine 17:873-890 (method 10 is the hybrid score).
- R. A. Fisher (1935). The Design of Experiments, ch. II (the lady tasting tea); A. Agresti (2002).
  Categorical Data Analysis, 2nd ed., section 3.5 (Fisher's exact test, one-sided P-value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

__all__ = [
    "Decision",
    "DropDecision",
    "Interval",
    "Mode",
    "RateDecision",
    "Sided",
    "decide_drop",
    "decide_rate",
    "fisher_one_sided",
    "newcombe_difference",
    "unstable",
    "wilson_interval",
]


class Sided(StrEnum):
    TWO = "two-sided"  # each end misses with probability (1 - confidence) / 2
    ONE = "one-sided"  # each end, on its own, is a confidence bound at `confidence`


class Decision(StrEnum):
    # The values are CheckStatus's (runner.model), so ``CheckStatus(decision.value)`` maps one onto the other.
    PASS = "passed"  # noqa: S105 (not a password)
    FAIL = "failed"
    INCONCLUSIVE = "inconclusive"


class Mode(StrEnum):
    STRICT = "strict"  # fail closed: PASS only when the data show the limit is met
    LENIENT = "lenient"  # FAIL only when the data show the limit is broken, otherwise PASS


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a confidence interval, as fractions of 1 (or of a difference, -1 to 1).

    ``estimate`` is None when there is no data at all (no runs): the interval then spans every possible
    value, which is the honest "no information".
    """

    low: float
    high: float
    estimate: float | None

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"interval low {self.low} is above high {self.high}")
        if self.estimate is not None and not self.low <= self.estimate <= self.high:
            raise ValueError(f"estimate {self.estimate} is outside [{self.low}, {self.high}]")

    def format_percent(self, decimals: int = 0) -> str:
        """``82% [71–90]``: the estimate and the bounds in percent (``n/a`` for a missing estimate)."""
        low, high = _percent(self.low, decimals), _percent(self.high, decimals)
        estimate = "n/a" if self.estimate is None else f"{_percent(self.estimate, decimals)}%"
        return f"{estimate} [{low}–{high}]"

    def format_points(self, decimals: int = 1) -> str:
        """``10.0pp [2.1–17.5]``: a difference of rates in percentage points (``n/a`` for no estimate)."""
        low, high = _percent(self.low, decimals), _percent(self.high, decimals)
        estimate = "n/a" if self.estimate is None else f"{_percent(self.estimate, decimals)}pp"
        return f"{estimate} [{low}–{high}]"


def wilson_interval(successes: int, n: int, confidence: float = 0.95, sided: Sided = Sided.TWO) -> Interval:
    """The Wilson score interval for the rate ``successes / n`` (Wilson 1927; Newcombe 1998a, method 3).

    With ``p = successes / n`` and ``z`` the standard normal quantile (``z = Φ⁻¹(1 - (1 - confidence) / 2)``
    two-sided, ``Φ⁻¹(confidence)`` one-sided, see ``Sided``), the bounds are the two roots in ``π`` of
    ``|p - π| = z·sqrt(π(1 - π) / n)``::

        (2np + z² ± z·sqrt(z² + 4np(1 - p))) / (2(n + z²))

    Unlike the textbook ``p ± z·sqrt(p(1 - p) / n)`` it stays inside [0, 1] and does not collapse to a
    point at 0/n or n/n. ``n == 0`` gives ``Interval(0, 1, estimate=None)``: no information.
    """
    _check_counts(successes, n)
    z = _z(confidence, sided)
    if n == 0:
        return Interval(0.0, 1.0, None)
    p = successes / n
    centre = 2 * n * p + z * z
    spread = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    denominator = 2 * (n + z * z)
    # The bounds are exactly 0 at 0/n and exactly 1 at n/n; elsewhere clamp away float dust.
    low = 0.0 if successes == 0 else min(p, max(0.0, (centre - spread) / denominator))
    high = 1.0 if successes == n else max(p, min(1.0, (centre + spread) / denominator))
    return Interval(low, high, p)


def newcombe_difference(
    s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95, sided: Sided = Sided.TWO
) -> Interval:
    """Newcombe's hybrid score interval for ``p1 - p2`` (Newcombe 1998b, method 10).

    With ``(l1, u1)`` and ``(l2, u2)`` the Wilson intervals of ``p1 = s1 / n1`` and ``p2 = s2 / n2`` at the
    same ``confidence`` and ``sided``, and ``D = p1 - p2``::

        low  = D - sqrt((p1 - l1)² + (u2 - p2)²)
        high = D + sqrt((u1 - p1)² + (p2 - l2)²)

    which equals the paper's ``D - z·sqrt(l1(1 - l1)/n1 + u2(1 - u2)/n2)`` (and likewise for ``high``),
    because each Wilson bound satisfies ``(p - l)² = z²·l(1 - l)/n``. A side with no runs gives
    ``Interval(-1, 1, estimate=None)``: no information.
    """
    first = wilson_interval(s1, n1, confidence, sided)
    second = wilson_interval(s2, n2, confidence, sided)
    if first.estimate is None or second.estimate is None:
        return Interval(-1.0, 1.0, None)
    p1, p2 = first.estimate, second.estimate
    d = p1 - p2
    low = d - math.hypot(p1 - first.low, second.high - p2)
    high = d + math.hypot(first.high - p1, p2 - second.low)
    return Interval(min(d, max(-1.0, low)), max(d, min(1.0, high)), d)


def fisher_one_sided(s_base: int, n_base: int, s_cur: int, n_cur: int) -> float:
    """The exact one-sided Fisher test p-value for "the current success rate is lower than the baseline's".

    Given the total number of successes ``K = s_base + s_cur`` over ``N = n_base + n_cur`` runs, the number
    of successes ``X`` that fall in the current group is hypergeometric under "no difference"::

        P(X = x) = C(K, x)·C(N - K, n_cur - x) / C(N, n_cur)

    and the p-value is the lower tail ``P(X <= s_cur)`` (Fisher 1935; Agresti 2002, §3.5): the chance
    of a result at least this bad for the current group if both groups shared one rate. It is summed
    exactly over integers (each term from the previous one by an exact integer ratio, over the shorter of
    the two tails) and rounded to a float once, so thousands of runs neither overflow nor lose precision.
    An empty side makes the table uninformative: the p-value is 1.
    """
    _check_counts(s_base, n_base)
    _check_counts(s_cur, n_cur)
    total, successes = n_base + n_cur, s_base + s_cur
    lowest, highest = max(0, successes - n_base), min(successes, n_cur)
    # Terms t(x) = C(K, x)·C(N - K, n_cur - x) for x in [lowest, highest]; they sum to C(N, n_cur).
    if s_cur - lowest <= highest - s_cur:
        tail = _hypergeometric_terms(successes, total - successes, n_cur, lowest, s_cur)
    else:
        upper = _hypergeometric_terms(successes, total - successes, n_cur, s_cur + 1, highest)
        tail = math.comb(total, n_cur) - upper
    return tail / math.comb(total, n_cur)  # int / int is correctly rounded, however large the ints


@dataclass(frozen=True, slots=True)
class DropDecision:
    """A relative check: did the success rate drop from the baseline by more than ``allowed_drop``?

    ``drop`` is ``baseline rate - current rate`` (None when a side has no runs). ``interval`` is
    Newcombe's two-sided interval for the drop at ``confidence``, for display; ``bounds`` is the one-sided
    pair that decided (see ``decide_drop``). ``p_value`` is Fisher's one-sided test of "current < baseline",
    i.e. of a drop beyond zero, not beyond the allowed drop: it is reported, it does not decide.
    """

    status: Decision
    drop: float | None
    interval: Interval
    bounds: Interval
    p_value: float
    reason: str  # one sentence


@dataclass(frozen=True, slots=True)
class RateDecision:
    """An absolute check: is the success rate at least ``threshold``?

    ``interval`` is the two-sided Wilson interval at ``confidence``, for display; ``bounds`` is the
    one-sided pair that decided (see ``decide_rate``).
    """

    status: Decision
    interval: Interval
    bounds: Interval
    reason: str  # one sentence


def decide_drop(
    baseline: tuple[int, int],
    current: tuple[int, int],
    allowed_drop: float,
    *,
    confidence: float = 0.95,
    min_runs: int = 10,
    mode: Mode = Mode.STRICT,
) -> DropDecision:
    """Decide whether ``current = (successes, runs)`` dropped from ``baseline`` by more than ``allowed_drop``.

    The decision uses Newcombe's one-sided bounds for the drop at ``confidence`` (``lower``, ``upper``: the
    two-sided interval at ``1 - 2 * (1 - confidence)``):

    - ``lower > allowed_drop``: FAIL in both modes (a real drop beyond the allowed one);
    - ``upper <= allowed_drop``: PASS in both modes (the drop is shown to be within the allowed one);
    - otherwise the data cannot tell: INCONCLUSIVE in ``strict``, PASS in ``lenient``.

    Fewer than ``min_runs`` runs on either side is INCONCLUSIVE in both modes, never PASS.
    ``allowed_drop`` is a fraction of 1 (0.05 is 5 percentage points); ``confidence`` is above 0.5.
    """
    _check_fraction("allowed_drop", allowed_drop)
    _check_min_runs(min_runs)
    (s_base, n_base), (s_cur, n_cur) = baseline, current
    interval = newcombe_difference(s_base, n_base, s_cur, n_cur, confidence)
    bounds = newcombe_difference(s_base, n_base, s_cur, n_cur, confidence, Sided.ONE)
    p_value = fisher_one_sided(s_base, n_base, s_cur, n_cur)
    allowed, level = _limit(allowed_drop), _limit(confidence)

    def decision(status: Decision, reason: str) -> DropDecision:
        return DropDecision(status, interval.estimate, interval, bounds, p_value, reason)

    if n_cur < min_runs or n_base < min_runs:
        return decision(Decision.INCONCLUSIVE, _too_few(n_cur, n_base, min_runs))
    observed = f"drop {interval.format_points()}, {_p(p_value)}"
    if bounds.low > allowed_drop:
        return decision(
            Decision.FAIL,
            f"{observed}: a real drop beyond the allowed {allowed}pp "
            f"(one-sided {level}% lower bound {_points(bounds.low)}pp)",
        )
    if bounds.high <= allowed_drop:
        return decision(
            Decision.PASS,
            f"{observed}: within the allowed {allowed}pp "
            f"(one-sided {level}% upper bound {_points(bounds.high)}pp)",
        )
    runs = _runs(n_cur, n_base)
    if mode is Mode.LENIENT:
        return decision(
            Decision.PASS,
            f"{observed} {runs}: not significantly beyond the allowed {allowed}pp "
            f"(one-sided {level}% lower bound {_points(bounds.low)}pp)",
        )
    return decision(
        Decision.INCONCLUSIVE,
        f"{observed} {runs}: too uncertain to show it is within the allowed {allowed}pp "
        f"(one-sided {level}% upper bound {_points(bounds.high)}pp)",
    )


def decide_rate(
    successes: int,
    n: int,
    threshold: float,
    *,
    confidence: float = 0.95,
    min_runs: int = 10,
    mode: Mode = Mode.STRICT,
) -> RateDecision:
    """Decide whether the success rate ``successes / n`` is at least ``threshold`` (a fraction of 1).

    The decision uses Wilson's one-sided bounds at ``confidence`` (``lower``, ``upper``: the two-sided
    interval at ``1 - 2 * (1 - confidence)``):

    - ``upper < threshold``: FAIL in both modes (the rate is shown to be below the threshold);
    - ``lower >= threshold``: PASS in both modes (the rate is shown to meet it);
    - otherwise the data cannot tell: INCONCLUSIVE in ``strict``, PASS in ``lenient``.

    Fewer than ``min_runs`` runs is INCONCLUSIVE in both modes, never PASS. ``confidence`` is above 0.5.
    """
    _check_fraction("threshold", threshold)
    _check_min_runs(min_runs)
    interval = wilson_interval(successes, n, confidence)
    bounds = wilson_interval(successes, n, confidence, Sided.ONE)
    required, level = _limit(threshold), _limit(confidence)

    def decision(status: Decision, reason: str) -> RateDecision:
        return RateDecision(status, interval, bounds, reason)

    if n < min_runs:
        return decision(
            Decision.INCONCLUSIVE, f"too few runs to decide: {n} runs, at least {min_runs} needed"
        )
    observed = f"success rate {interval.format_percent()} over {n} runs"
    if bounds.high < threshold:
        return decision(
            Decision.FAIL,
            f"{observed}: below the required {required}% "
            f"(one-sided {level}% upper bound {_percent(bounds.high, 1)}%)",
        )
    if bounds.low >= threshold:
        return decision(
            Decision.PASS,
            f"{observed}: meets the required {required}% "
            f"(one-sided {level}% lower bound {_percent(bounds.low, 1)}%)",
        )
    if mode is Mode.LENIENT:
        return decision(
            Decision.PASS,
            f"{observed}: not significantly below the required {required}% "
            f"(one-sided {level}% upper bound {_percent(bounds.high, 1)}%)",
        )
    return decision(
        Decision.INCONCLUSIVE,
        f"{observed}: too uncertain to show it meets the required {required}% "
        f"(one-sided {level}% lower bound {_percent(bounds.low, 1)}%)",
    )


def unstable(outcomes: Sequence[bool]) -> bool:
    """True when a scenario both passed and failed over its runs (a flaky scenario)."""
    return any(outcomes) and not all(outcomes)


# --- helpers --------------------------------------------------------------------------------------------


def _z(confidence: float, sided: Sided) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    if sided is Sided.ONE:
        if confidence <= 0.5:
            raise ValueError(f"a one-sided confidence must be above 0.5 (e.g. 0.95), got {confidence}")
        return NormalDist().inv_cdf(confidence)
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def _hypergeometric_terms(good: int, bad: int, draws: int, first: int, last: int) -> int:
    """``sum(C(good, x)·C(bad, draws - x) for x in first..last)``, each term from the previous one exactly."""
    if first > last:
        return 0
    term = math.comb(good, first) * math.comb(bad, draws - first)
    total = term
    for x in range(first, last):
        # t(x + 1) = t(x)·(good - x)(draws - x) / ((x + 1)(bad - draws + x + 1)); the division is exact.
        term = term * (good - x) * (draws - x) // ((x + 1) * (bad - draws + x + 1))
        total += term
    return total


def _check_counts(successes: int, n: int) -> None:
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= runs, got {successes} of {n}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a fraction of 1 (0.05 is 5 percentage points), got {value}")


def _check_min_runs(min_runs: int) -> None:
    if min_runs < 1:
        raise ValueError(f"min_runs must be at least 1, got {min_runs}")


def _too_few(n_cur: int, n_base: int, min_runs: int) -> str:
    return f"too few runs to decide: {n_cur} current, {n_base} baseline, at least {min_runs} needed"


def _runs(n_cur: int, n_base: int) -> str:
    if n_cur == n_base:
        return f"with {n_cur} runs per side"
    return f"with {n_cur} current and {n_base} baseline runs"


def _percent(fraction: float, decimals: int) -> str:
    # ``+ 0.0`` turns a rounded -0.0 into 0.0, so a tiny negative never prints as "-0".
    return f"{round(fraction * 100, decimals) + 0.0:.{decimals}f}"


def _points(fraction: float) -> str:
    return _percent(fraction, 1)


def _limit(fraction: float) -> str:
    """A user-given limit in percent, as short as it was written: 0.05 → ``5``, 0.975 → ``97.5``."""
    return f"{round(fraction * 100, 6):g}"


def _p(p_value: float) -> str:
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.2g}"
