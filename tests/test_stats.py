"""The statistics behind noisy gates: published reference values, properties, and the decision rules.

Intervals are checked against the worked examples of the papers that define them, to the four decimals
the papers print; the Fisher test against textbook and R-documented p-values. The properties pin what a
gate relies on: bounds inside [0, 1] around the estimate, monotone in the data and in the confidence,
never PASS on too few runs, and ``strict`` never passing where ``lenient`` fails.

Conventions under test (see ``runner.stats``): rates and drops are fractions of 1; a drop is
``baseline - current``; decisions use one-sided bounds at ``confidence``, reasons display the two-sided
interval at ``confidence``.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.stats import (
    Decision,
    Interval,
    Mode,
    Sided,
    decide_drop,
    decide_rate,
    fisher_one_sided,
    newcombe_difference,
    unstable,
    wilson_interval,
)

PROPERTIES = settings(derandomize=True, database=None, deadline=None, max_examples=200)

# --- published reference values -------------------------------------------------------------------------

# Wilson score interval without continuity correction (method 3), 95%, from the worked examples of
# R. G. Newcombe (1998a), "Two-sided confidence intervals for the single proportion: comparison of seven
# methods", Statistics in Medicine 17:857-872, Table I. The rows 15/148, 0/20 and 1/29 are also pinned by
# the test suite of the R package ratesci (tests/testthat/test3.R, "Single proportion, Newcombe examples").
WILSON_NEWCOMBE_1998A = [
    pytest.param(81, 263, 0.2553, 0.3662, id="81/263"),
    pytest.param(15, 148, 0.0624, 0.1605, id="15/148"),
    pytest.param(0, 20, 0.0000, 0.1611, id="0/20"),
    pytest.param(1, 29, 0.0061, 0.1718, id="1/29"),
]


@pytest.mark.parametrize(("successes", "n", "low", "high"), WILSON_NEWCOMBE_1998A)
def test_wilson_interval_matches_newcombe_1998a(successes: int, n: int, low: float, high: float) -> None:
    """The 95% Wilson interval reproduces Newcombe's published limits to four decimals."""
    interval = wilson_interval(successes, n)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    assert interval.estimate == successes / n


# Hybrid score interval for p1 - p2 (method 10), 95%, from the worked examples (a)-(h) of R. G. Newcombe
# (1998b), "Interval estimation for the difference between independent proportions: comparison of eleven
# methods", Statistics in Medicine 17:873-890, Table II. Example (a) and (b) are also pinned by the R
# package propint's tests, (d) by ratesci's (tests/testthat/test3.R, "Newcombe RD example (d)"); (e) and
# (f) follow from Table I's 0/20 limit. Example (c), 6/7 - 2/7, is left out: we could not confirm its
# printed lower limit from a second source.
NEWCOMBE_1998B_METHOD_10 = [
    pytest.param((56, 70, 48, 80), 0.0524, 0.3339, id="a-56/70-48/80"),
    pytest.param((9, 10, 3, 10), 0.1705, 0.8090, id="b-9/10-3/10"),
    pytest.param((5, 56, 0, 29), -0.0381, 0.1926, id="d-5/56-0/29"),
    pytest.param((0, 10, 0, 20), -0.1611, 0.2775, id="e-0/10-0/20"),
    pytest.param((0, 10, 0, 10), -0.2775, 0.2775, id="f-0/10-0/10"),
    pytest.param((10, 10, 0, 20), 0.6791, 1.0000, id="g-10/10-0/20"),
    pytest.param((10, 10, 0, 10), 0.6075, 1.0000, id="h-10/10-0/10"),
]


@pytest.mark.parametrize(("counts", "low", "high"), NEWCOMBE_1998B_METHOD_10)
def test_newcombe_difference_matches_newcombe_1998b(
    counts: tuple[int, int, int, int], low: float, high: float
) -> None:
    """The 95% hybrid score interval for p1 - p2 reproduces Newcombe's published limits to four decimals."""
    s1, n1, s2, n2 = counts
    interval = newcombe_difference(s1, n1, s2, n2)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    assert interval.estimate == pytest.approx(s1 / n1 - s2 / n2)


def test_fisher_lady_tasting_tea_is_17_over_70() -> None:
    """Fisher (1935), The Design of Experiments, ch. II; Agresti (2002), Categorical Data Analysis, §3.5.

    Eight cups, four with the milk poured first; the lady picks four as milk-first and three are right.
    Seen as two groups of four cups, the tea-first group is "current" with 1 of 4 called milk-first and
    the milk-first group is "baseline" with 3 of 4: P(X <= 1) = (1 + 16) / 70. R's ``fisher.test``
    documentation prints the same test as ``alternative = "greater"``: p-value = 0.2429.
    """
    assert fisher_one_sided(s_base=3, n_base=4, s_cur=1, n_cur=4) == 17 / 70


def test_fisher_matches_r_documented_convictions_example() -> None:
    """R's ``?fisher.test`` example (Fleiss 1981, from Fisher 1962): ``fisher.test(Convictions,
    alternative = "less")`` gives p-value = 0.0004652.

    Dizygotic twins of criminals: 2 of 17 convicted ("current"); monozygotic: 10 of 13 ("baseline").
    """
    assert fisher_one_sided(s_base=10, n_base=13, s_cur=2, n_cur=17) == pytest.approx(0.0004652, abs=5e-8)


# --- wilson_interval --------------------------------------------------------------------------------------


def test_wilson_with_no_runs_is_no_information() -> None:
    """No runs: the interval spans [0, 1] and there is no estimate."""
    assert wilson_interval(0, 0) == Interval(0.0, 1.0, None)


def test_wilson_is_exact_at_the_edges() -> None:
    """0/n has a lower bound of exactly 0, n/n an upper bound of exactly 1 (no float dust)."""
    assert wilson_interval(0, 7).low == 0.0
    assert wilson_interval(7, 7).high == 1.0


def test_one_sided_pair_is_the_two_sided_interval_at_twice_the_miss_rate() -> None:
    """A one-sided pair at 0.95 is the two-sided interval at 0.90: each end misses 5% of the time."""
    one = wilson_interval(17, 30, 0.95, Sided.ONE)
    two = wilson_interval(17, 30, 0.90)
    assert (one.low, one.high) == pytest.approx((two.low, two.high), abs=1e-12)
    d_one = newcombe_difference(27, 30, 24, 30, 0.95, Sided.ONE)
    d_two = newcombe_difference(27, 30, 24, 30, 0.90)
    assert (d_one.low, d_one.high) == pytest.approx((d_two.low, d_two.high), abs=1e-12)


INVALID_ARGUMENTS = [
    pytest.param(lambda: wilson_interval(5, 4), id="more-successes-than-runs"),
    pytest.param(lambda: wilson_interval(-1, 4), id="negative-successes"),
    pytest.param(lambda: wilson_interval(1, 4, confidence=95), id="confidence-as-percent"),
    pytest.param(lambda: wilson_interval(1, 4, confidence=1.0), id="confidence-one"),
    pytest.param(lambda: wilson_interval(1, 4, confidence=0.4, sided=Sided.ONE), id="one-sided-below-half"),
    pytest.param(lambda: fisher_one_sided(3, 2, 1, 2), id="fisher-bad-counts"),
    pytest.param(lambda: decide_drop((9, 10), (8, 10), 5), id="allowed-drop-as-points"),
    pytest.param(lambda: decide_rate(9, 10, 85), id="threshold-as-percent"),
    pytest.param(lambda: decide_rate(9, 10, 0.85, min_runs=0), id="min-runs-zero"),
]


@pytest.mark.parametrize("call", INVALID_ARGUMENTS)
def test_invalid_arguments_are_rejected(call: object) -> None:
    """Nonsense is an error, never a silent value: 85 is not read as 8500%, nor 5 as 500 points."""
    assert callable(call)
    with pytest.raises(ValueError):
        call()


# --- Interval formatting ----------------------------------------------------------------------------------

FORMATS = [
    pytest.param(Interval(0.7149, 0.9012, 0.8214), "82% [71–90]", id="whole-percents"),
    pytest.param(Interval(0.0, 1.0, None), "n/a [0–100]", id="no-information"),
    pytest.param(Interval(0.0, 0.1611, 0.0), "0% [0–16]", id="zero"),
]


@pytest.mark.parametrize(("interval", "text"), FORMATS)
def test_format_percent(interval: Interval, text: str) -> None:
    """Estimate and bounds in whole percents, the bounds bracketed and joined by an en dash."""
    assert interval.format_percent() == text


def test_format_points_shows_a_difference_in_percentage_points() -> None:
    """Differences read in points with one decimal; a rounded tiny negative never prints as -0.0."""
    assert Interval(-0.1234, 0.2201, 0.05).format_points() == "5.0pp [-12.3–22.0]"
    assert Interval(-0.0004, 0.1, 0.0).format_points() == "0.0pp [0.0–10.0]"


def test_interval_rejects_an_estimate_outside_its_bounds() -> None:
    with pytest.raises(ValueError):
        Interval(0.2, 0.4, 0.5)
    with pytest.raises(ValueError):
        Interval(0.4, 0.2, None)


# --- fisher_one_sided -------------------------------------------------------------------------------------


def _fisher_oracle(s_base: int, n_base: int, s_cur: int, n_cur: int) -> Fraction:
    """The hypergeometric lower tail, summed term by term with ``math.comb`` (the definition)."""
    total, successes = n_base + n_cur, s_base + s_cur
    tail = sum(
        math.comb(successes, x) * math.comb(total - successes, n_cur - x)
        for x in range(max(0, successes - n_base), s_cur + 1)
    )
    return Fraction(tail, math.comb(total, n_cur))


def test_fisher_with_an_empty_side_is_one() -> None:
    """An empty group carries no evidence: p = 1."""
    assert fisher_one_sided(0, 0, 3, 10) == 1.0
    assert fisher_one_sided(3, 10, 0, 0) == 1.0


def test_fisher_handles_thousands_of_runs_exactly_and_fast() -> None:
    """5000 runs per side: no overflow, a p-value in (0, 1), and well under a second."""
    started = time.perf_counter()
    p = fisher_one_sided(2500, 5000, 2400, 5000)
    assert time.perf_counter() - started < 1.0
    assert 0.0 < p < 1.0
    # A collapse from 99.8% to 90%: C(10000, 5000) has over 3000 digits, yet p (about 3e-139) is exact.
    # Value cross-checked against scipy.stats.fisher_exact(alternative="less") while developing.
    assert fisher_one_sided(4990, 5000, 4500, 5000) == pytest.approx(2.9892426007878e-139, rel=1e-12)


# --- the scenarios from the issue -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_a_clear_drop_fails_with_30_runs_per_side(mode: Mode) -> None:
    """29/30 → 21/30 (96.7% → 70%): a 26.7pp drop, Fisher p ≈ 0.006, the one-sided 95% lower bound of
    the drop (11.1pp) is beyond the allowed 5pp: FAIL in both modes."""
    result = decide_drop((29, 30), (21, 30), allowed_drop=0.05, mode=mode)
    assert result.status is Decision.FAIL
    assert result.drop == pytest.approx(8 / 30)
    assert result.p_value == pytest.approx(0.0061, abs=5e-5)
    assert result.reason == (
        "drop 26.7pp [7.8–44.8], p=0.0061: a real drop beyond the allowed 5pp "
        "(one-sided 95% lower bound 11.1pp)"
    )


@pytest.mark.parametrize(
    ("mode", "status", "verdict"),
    [
        pytest.param(Mode.STRICT, Decision.INCONCLUSIVE, "too uncertain to show it is within", id="strict"),
        pytest.param(Mode.LENIENT, Decision.PASS, "not significantly beyond", id="lenient"),
    ],
)
def test_a_small_wobble_with_few_runs_is_not_significant(mode: Mode, status: Decision, verdict: str) -> None:
    """19/20 → 9/10 (95% → 90%): a 5pp wobble on 10 current runs, Fisher p ≈ 0.56. The data can neither
    show a drop beyond 5pp nor rule one out: PASS in lenient, INCONCLUSIVE in strict."""
    result = decide_drop((19, 20), (9, 10), allowed_drop=0.05, mode=mode)
    assert result.status is status
    assert result.reason.startswith("drop 5.0pp [-15.3–35.7], p=0.56 with 10 current and 20 baseline runs: ")
    assert verdict in result.reason


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        pytest.param(Mode.STRICT, Decision.INCONCLUSIVE, id="strict"),
        pytest.param(Mode.LENIENT, Decision.PASS, id="lenient"),
    ],
)
def test_a_true_10_point_drop_is_not_provable_with_30_runs(mode: Mode, status: Decision) -> None:
    """27/30 → 24/30 (90% → 80%): even a real 10pp drop is within the noise of 30 runs per side
    (95% interval [-8.8–28.5], p ≈ 0.24); strict refuses to pass it, lenient lets it through."""
    result = decide_drop((27, 30), (24, 30), allowed_drop=0.05, mode=mode)
    assert result.status is status
    assert result.reason.startswith("drop 10.0pp [-8.8–28.5], p=0.24 with 30 runs per side: ")


def test_the_one_sided_bound_decides_not_the_displayed_interval() -> None:
    """29/30 → 23/30: the displayed two-sided 95% interval [2.4–37.8] reaches below 5pp, yet the
    one-sided 95% lower bound (5.5pp) is above it: FAIL, and the reason names the bound that decided."""
    result = decide_drop((29, 30), (23, 30), allowed_drop=0.05)
    assert result.status is Decision.FAIL
    assert result.interval.low < 0.05 < result.bounds.low
    assert result.reason.endswith("(one-sided 95% lower bound 5.5pp)")


def test_a_stable_rate_passes_when_the_interval_is_tight() -> None:
    """950/1000 → 948/1000: the one-sided upper bound of the drop is under 5pp: PASS in strict mode."""
    result = decide_drop((950, 1000), (948, 1000), allowed_drop=0.05, mode=Mode.STRICT)
    assert result.status is Decision.PASS
    assert "within the allowed 5pp" in result.reason


def test_too_few_runs_is_inconclusive_and_names_the_counts() -> None:
    """4 current runs against 30 baseline runs, 10 needed: INCONCLUSIVE in both modes, never PASS."""
    for mode in Mode:
        result = decide_drop((30, 30), (4, 4), allowed_drop=0.05, min_runs=10, mode=mode)
        assert result.status is Decision.INCONCLUSIVE
        assert result.reason == "too few runs to decide: 4 current, 30 baseline, at least 10 needed"


RATE_CASES = [
    # successes of 30, strict, lenient; required >= 85% at 95% one-sided
    pytest.param(30, Decision.PASS, Decision.PASS, id="30/30-lower-bound-91.7%-clears-85%"),
    pytest.param(27, Decision.INCONCLUSIVE, Decision.PASS, id="27/30-lower-77.4%-upper-95.9%"),
    pytest.param(25, Decision.INCONCLUSIVE, Decision.PASS, id="25/30-below-85%-but-not-significantly"),
    pytest.param(22, Decision.FAIL, Decision.FAIL, id="22/30-upper-bound-84.3%-under-85%"),
]


@pytest.mark.parametrize(("successes", "strict", "lenient"), RATE_CASES)
def test_absolute_rate_check(successes: int, strict: Decision, lenient: Decision) -> None:
    """``>= 85%`` at 95%: strict passes only when the lower bound clears 85%, both fail when the upper
    bound is below it, and in between strict is INCONCLUSIVE while lenient passes."""
    assert decide_rate(successes, 30, 0.85, mode=Mode.STRICT).status is strict
    assert decide_rate(successes, 30, 0.85, mode=Mode.LENIENT).status is lenient


def test_absolute_rate_reason() -> None:
    result = decide_rate(22, 30, 0.85)
    assert result.reason == (
        "success rate 73% [56–86] over 30 runs: below the required 85% (one-sided 95% upper bound 84.3%)"
    )
    assert decide_rate(4, 4, 0.85).reason == "too few runs to decide: 4 runs, at least 10 needed"


UNSTABLE = [
    pytest.param([True, False, True], True, id="passed-and-failed"),
    pytest.param([True, True], False, id="always-passed"),
    pytest.param([False], False, id="always-failed"),
    pytest.param([], False, id="no-runs"),
]


@pytest.mark.parametrize(("outcomes", "expected"), UNSTABLE)
def test_unstable_means_both_passed_and_failed(outcomes: list[bool], expected: bool) -> None:
    assert unstable(outcomes) is expected


# --- properties -------------------------------------------------------------------------------------------

CONFIDENCES = st.sampled_from([0.8, 0.9, 0.95, 0.975, 0.99, 0.999])


@st.composite
def counts(draw: st.DrawFn, max_n: int = 60, min_n: int = 1) -> tuple[int, int]:
    n = draw(st.integers(min_n, max_n))
    return draw(st.integers(0, n)), n


@PROPERTIES
@given(counts(), CONFIDENCES, st.sampled_from(list(Sided)))
def test_wilson_bounds_are_in_unit_range_around_the_estimate(
    sn: tuple[int, int], confidence: float, sided: Sided
) -> None:
    interval = wilson_interval(*sn, confidence, sided)
    assert interval.estimate is not None
    assert 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0


@PROPERTIES
@given(counts(), CONFIDENCES, CONFIDENCES)
def test_wilson_widens_with_confidence(sn: tuple[int, int], a: float, b: float) -> None:
    narrow, wide = wilson_interval(*sn, min(a, b)), wilson_interval(*sn, max(a, b))
    assert wide.low <= narrow.low and narrow.high <= wide.high


@PROPERTIES
@given(counts(min_n=2), CONFIDENCES)
def test_wilson_rises_with_successes(sn: tuple[int, int], confidence: float) -> None:
    s, n = sn
    fewer, more = (
        wilson_interval(min(s, n - 1), n, confidence),
        wilson_interval(min(s, n - 1) + 1, n, confidence),
    )
    assert fewer.low < more.low and fewer.high < more.high


@PROPERTIES
@given(counts(), counts(), CONFIDENCES)
def test_newcombe_bounds_are_in_range_around_the_difference_and_antisymmetric(
    first: tuple[int, int], second: tuple[int, int], confidence: float
) -> None:
    forward = newcombe_difference(*first, *second, confidence)
    backward = newcombe_difference(*second, *first, confidence)
    assert forward.estimate is not None
    assert -1.0 <= forward.low <= forward.estimate <= forward.high <= 1.0
    assert (forward.low, forward.high) == pytest.approx((-backward.high, -backward.low), abs=1e-12)


@PROPERTIES
@given(counts(), counts(min_n=2))
def test_more_current_successes_mean_a_smaller_drop_and_a_larger_p(
    base: tuple[int, int], cur: tuple[int, int]
) -> None:
    s, n = cur
    s = min(s, n - 1)
    worse, better = newcombe_difference(*base, s, n), newcombe_difference(*base, s + 1, n)
    assert better.low < worse.low and better.high < worse.high
    assert fisher_one_sided(*base, s, n) <= fisher_one_sided(*base, s + 1, n)  # equal when p is already 1


@PROPERTIES
@given(counts(max_n=40, min_n=0), counts(max_n=40, min_n=0))
def test_fisher_equals_the_exact_hypergeometric_tail(base: tuple[int, int], cur: tuple[int, int]) -> None:
    """The shortcut (incremental terms, shorter tail) gives the definition's value, rounded once."""
    p = fisher_one_sided(*base, *cur)
    assert p == float(_fisher_oracle(*base, *cur))
    assert 0.0 < p <= 1.0


DECISION_ARGS = st.tuples(
    counts(max_n=80, min_n=0),
    counts(max_n=80, min_n=0),
    st.sampled_from([0.0, 0.02, 0.05, 0.1, 0.2]),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    st.integers(1, 30),
)


@PROPERTIES
@given(DECISION_ARGS)
def test_drop_decisions_never_pass_below_the_minimum_and_strict_never_passes_where_lenient_fails(
    args: tuple[tuple[int, int], tuple[int, int], float, float, int],
) -> None:
    base, cur, allowed, confidence, min_runs = args
    strict, lenient = (
        decide_drop(base, cur, allowed, confidence=confidence, min_runs=min_runs, mode=mode) for mode in Mode
    )
    if min(base[1], cur[1]) < min_runs:
        assert strict.status is lenient.status is Decision.INCONCLUSIVE
    if lenient.status is Decision.FAIL:
        assert strict.status is Decision.FAIL
    if strict.status is Decision.PASS:
        assert lenient.status is Decision.PASS
    assert "\n" not in strict.reason and "\n" not in lenient.reason


@PROPERTIES
@given(
    counts(max_n=80, min_n=0), st.sampled_from([0.0, 0.5, 0.85, 0.9, 1.0]), CONFIDENCES, st.integers(1, 30)
)
def test_rate_decisions_never_pass_below_the_minimum_and_strict_never_passes_where_lenient_fails(
    sn: tuple[int, int], threshold: float, confidence: float, min_runs: int
) -> None:
    strict, lenient = (
        decide_rate(*sn, threshold, confidence=confidence, min_runs=min_runs, mode=mode) for mode in Mode
    )
    if sn[1] < min_runs:
        assert strict.status is lenient.status is Decision.INCONCLUSIVE
    if lenient.status is Decision.FAIL:
        assert strict.status is Decision.FAIL
    if strict.status is Decision.PASS:
        assert lenient.status is Decision.PASS
