"""Trend series: one point per report of a config, gaps where there is no value (never 0), the key metrics
of each gate, and the threshold of the newest report."""

from __future__ import annotations

import pytest

from runner.history import build_history
from runner.model import CheckStatus, RunOutcome
from runner.trend import MAX_METRIC_CHARTS, Scale, build_trends, metric_title

from .reporters import factories as f
from .reporters.trend_factories import CONFIG, checkout, night, nightly_history, report, verdict_of


def test_one_trend_per_gate_in_the_order_of_the_newest_report() -> None:
    (config,) = build_trends(nightly_history())
    assert config.config_path == CONFIG and len(config.reports) == 5
    assert [g.name for g in config.gates] == ["checkout-agent", "billing-agent"]


def test_success_rate_has_a_gap_where_the_gate_has_no_value_or_is_absent() -> None:
    """Night 23: checkout timed out (no success rate) and billing did not run: gaps, not 0."""
    (config,) = build_trends(nightly_history())
    checkout_gate, billing = config.gates
    assert [p.value for p in checkout_gate.success.points] == [0.95, 0.97, 0.80, None, 0.85]
    assert [p.status for p in checkout_gate.success.points] == [
        "passed",
        "passed",
        "failed",
        "error",
        "failed",
    ]
    assert [p.value for p in billing.success.points] == [0.95, 0.95, 0.95, None, 0.95]
    assert billing.success.points[3].text == "gate not in this report"
    assert billing.records[3] is None
    assert checkout_gate.success.threshold == 0.9 and checkout_gate.success.required == ">= 90%"
    assert checkout_gate.success.scale is Scale.PERCENT


def test_key_metrics_are_the_metric_checks_with_their_unit_and_threshold() -> None:
    (config,) = build_trends(nightly_history())
    latency, politeness = config.gates[0].metrics
    assert (latency.key, latency.title, latency.scale) == (
        "metric.Latency.p50",
        "Latency · p50",
        Scale.NUMBER,
    )
    assert (latency.threshold, latency.required) == (2000.0, "p50 <= 2000")
    assert [p.value for p in latency.points] == [1500.0, 1400.0, 2600.0, None, 2100.0]
    assert latency.points[3].text == "check not in this report"
    assert (politeness.scale, politeness.threshold) == (Scale.PERCENT, 0.9)
    assert config.gates[1].metrics == ()  # billing has no metric checks: only its success rate is charted


def test_a_gate_without_a_success_rate_check_gets_the_rate_of_its_runs() -> None:
    """Only when every run has a verdict; a gate with no runs has no success rate."""
    runs = (f.run(1), f.run(2), f.run(3, RunOutcome.FAILED), f.run(4))
    gate = f.gate(
        "metrics-only", checks=(f.check("metric.Latency.p50", expression="p50 <= 2000"),), runs=runs
    )
    still_running = f.gate("running", checks=(), runs=(f.run(1), f.run(2, RunOutcome.INCOMPLETE)))
    history = build_history([report(verdict_of(gate, still_running), night(20))])
    (config,) = build_trends(history)
    computed, running = (g.success.points[0] for g in config.gates)
    assert (computed.value, computed.status, computed.text) == (0.75, None, "75% (3/4 runs)")
    assert (running.value, running.text) == (None, "no success rate: 1 of 2 runs without a verdict")
    assert config.gates[0].success.threshold is None


def test_at_most_six_metric_charts_per_gate_the_others_are_named() -> None:
    checks = tuple(
        f.check(f"metric.M{i}.mean", CheckStatus.PASSED, expression="mean >= 4", observed=4.5)
        for i in range(8)
    )
    history = build_history([report(verdict_of(f.gate("many", checks=checks)), night(20))])
    (gate,) = build_trends(history)[0].gates
    assert [s.key for s in gate.metrics] == [f"metric.M{i}.mean" for i in range(MAX_METRIC_CHARTS)]
    assert gate.omitted == ("metric.M6.mean", "metric.M7.mean")


def test_reports_of_different_configs_are_different_trends() -> None:
    history = build_history(
        [
            report(verdict_of(checkout(0.95, 1500)), night(20), "a.json"),
            report(verdict_of(checkout(0.50, 1500)), night(21), "b.json", config="configs/other.yaml"),
            report(verdict_of(checkout(0.96, 1500)), night(22), "c.json"),
        ]
    )
    first, other = build_trends(history)
    assert [p.value for p in first.gates[0].success.points] == [0.95, 0.96]
    assert [p.value for p in other.gates[0].success.points] == [0.50]


@pytest.mark.parametrize(
    ("check_id", "title"),
    [
        ("metric.Latency.p50", "Latency · p50"),
        ("metric.Sentiment.rate(positive,neutral)", "Sentiment · rate(positive,neutral)"),
        ("metric.Version.rate(v1.0)", "Version · rate(v1.0)"),
        ("evaluation.auto:Answer Accuracy.pass_rate", "auto:Answer Accuracy · pass_rate"),
        ("metric.12.pass_rate", "12 · pass_rate"),
        ("metric.odd", "odd"),
    ],
)
def test_metric_titles(check_id: str, title: str) -> None:
    assert metric_title(check_id) == title
