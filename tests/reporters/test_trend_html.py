"""Specification of the trend page (``regate report``): one self-contained, inert, deterministic HTML page
with an accessible chart per gate and key metric, gaps where there is no value, and the latest failures."""

from __future__ import annotations

import itertools
import re

import pytest

from runner.history import build_history
from runner.model import CheckStatus, GateStatus
from runner.reporters.svg_chart import format_value, line_chart
from runner.reporters.trend_html import render_trend_html
from runner.trend import Point, Scale, Series

from . import factories as f
from .trend_factories import checkout, night, nightly_history, report, verdict_of

CHART = re.compile(r"<svg\b[^>]*>.*?</svg>", re.DOTALL)


def _charts(html: str) -> list[str]:
    return CHART.findall(html)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_a_page_with_a_title_the_time_span_and_the_number_of_reports() -> None:
    html = render_trend_html(nightly_history())
    assert html.startswith("<!DOCTYPE html>\n")
    assert "<title>regate trend: 5 reports, 2026-11-20 02:00 UTC – 2026-11-24 02:00 UTC</title>" in html
    assert "5 reports from 2026-11-20 02:00 UTC to 2026-11-24 02:00 UTC" in html


def test_one_accessible_chart_per_gate_and_key_metric() -> None:
    """checkout: success rate, latency, politeness; billing: success rate only."""
    html = render_trend_html(nightly_history())
    charts = _charts(html)
    assert len(charts) == 4
    for chart in charts:
        assert 'role="img"' in chart and 'aria-label="' in chart
        assert re.search(r"<svg[^>]*>\s*<title>[^<]+</title>", chart)
    assert 'aria-label="Success rate of gate checkout-agent over 5 reports: latest 85.0% (20 runs);' in html
    assert "Latency · p50 of gate checkout-agent" in html


def test_every_value_is_a_marker_with_a_tooltip_and_the_line_breaks_at_gaps() -> None:
    checkout_success = _charts(render_trend_html(nightly_history()))[0]
    markers = re.findall(r'class="pt (\w+)"[^>]*><title>([^<]*)</title>', checkout_success)
    assert [status for status, _ in markers] == ["passed", "passed", "failed", "failed"]  # 4 values, 1 gap
    assert markers[2][1] == "Nov 22: 80.0% (20 runs) — failed"
    # Night 23 has no value: the line stops before it and starts again after it.
    assert len(re.findall(r"<polyline ", checkout_success)) == 1  # 20-21-22; 24 alone is a marker only
    gaps = re.findall(r'<rect class="gap"[^>]*><title>([^<]*)</title>', checkout_success)
    assert gaps == ["Nov 23: no value (error): n/a — error"]


def test_a_gap_is_never_drawn_as_zero() -> None:
    """No marker sits on the 0 % line: the absent billing gate of night 23 is a shaded gap."""
    billing = _charts(render_trend_html(nightly_history()))[3]
    zero_y = re.search(r'<text class="ylabel"[^>]*y="([\d.]+)"[^>]*>0%</text>', billing)
    assert zero_y is not None
    assert f'cy="{zero_y.group(1)}"' not in billing
    assert "Nov 23: gate not in this report" in billing


def test_the_threshold_of_the_newest_report_is_drawn() -> None:
    latency = _charts(render_trend_html(nightly_history()))[1]
    assert re.search(r'<line class="threshold"[^>]*><title>required p50 &lt;= 2000</title>', latency)


def test_latest_failures_show_each_failing_check_observed_vs_required() -> None:
    failures = _section(render_trend_html(nightly_history()), "latest-failures")
    assert "2026-11-24 02:00 UTC" in failures and "exit code 1" in failures
    cells = r"<tr><td>([^<]*)</td>.*?<code>([^<]*)</code></td><td>([^<]*)</td><td><code>([^<]*)</code>"
    rows = re.findall(cells, failures)
    assert rows == [
        ("checkout-agent", "success_rate", "85.0% (20 runs)", "&gt;= 90%"),
        ("checkout-agent", "metric.Latency.p50", "2100 (20 runs)", "p50 &lt;= 2000"),
    ]
    assert "billing-agent" not in failures  # it passed


def test_all_green_says_so_and_an_errored_gate_shows_its_reason() -> None:
    green = build_history([report(verdict_of(checkout(0.95, 1500)), night(20))])
    assert "Every gate passed (1)." in _section(render_trend_html(green), "latest-failures")
    no_checks = build_history([report(f.v_timed_out_without_checks(), night(20))])
    failures = _section(render_trend_html(no_checks), "latest-failures")
    assert "<td>slow-agent</td>" in failures and "gate timed out" in failures
    errored = _section(
        render_trend_html(build_history([report(f.v_errored(), night(20))])), "latest-failures"
    )
    assert "<td>no verdict: gate timed out after 30m</td>" in errored  # no value: the summary says why


def test_each_gate_has_a_table_of_its_recent_statuses() -> None:
    html = render_trend_html(nightly_history())
    checkout_statuses = html[html.index('id="gate-1-1"') : html.index('id="gate-1-2"')]
    assert "<em>no verdict: gate timed out after 30m</em><br><code>success_rate</code>" in checkout_statuses
    billing = html[html.index('id="gate-1-2"') :]
    statuses = re.findall(r'<td class="when">([^<]*)</td><td><span class="badge s-(\w+)"', billing)
    assert statuses == [
        ("2026-11-24 02:00 UTC", "passed"),
        ("2026-11-23 02:00 UTC", "missing"),
        ("2026-11-22 02:00 UTC", "passed"),
        ("2026-11-21 02:00 UTC", "passed"),
        ("2026-11-20 02:00 UTC", "passed"),
    ]


def test_report_text_is_escaped_everywhere() -> None:
    """Gate names, check ids, reasons and config paths come from reports: none can inject markup."""
    hostile = "<img src=x onerror=alert(1)>\"'&"
    gate = f.gate(
        hostile,
        GateStatus.FAILED,
        checks=(f.check(f"metric.{hostile}.mean", CheckStatus.FAILED, expression="mean >= 4", observed=3.0),),
        reasons=(f.HOSTILE,),
    )
    verdict = verdict_of(gate, f.hostile_gate())
    history = build_history([report(verdict, night(20), config=f"<script>{hostile}.yaml")])
    html = render_trend_html(history)
    assert "<img" not in html and "<script" not in html.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;" in html
    assert "&lt;script&gt;" in html
    for attribute in re.findall(r'(?:aria-label|data-series|content)="([^"]*)"', html):
        assert "<" not in attribute and ">" not in attribute


def test_self_contained_no_script_no_external_resource() -> None:
    html = render_trend_html(nightly_history())
    assert "http://" not in html and "https://" not in html  # not even an xmlns: inline SVG needs none
    assert "<script" not in html and "src=" not in html and "url(" not in html and "@import" not in html
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_deterministic_whatever_the_order_of_the_reports() -> None:
    history = nightly_history()
    reordered = build_history(list(reversed(history.reports)))
    assert render_trend_html(history) == render_trend_html(reordered)
    assert render_trend_html(history).encode() == render_trend_html(nightly_history()).encode()


def test_several_configs_get_their_own_sections() -> None:
    history = build_history(
        [
            report(verdict_of(checkout(0.95, 1500)), night(20), "a.json"),
            report(verdict_of(checkout(0.50, 1500)), night(21), "b.json", config="configs/other.yaml"),
        ]
    )
    html = render_trend_html(history)
    assert '<h2 id="config-1">Gates of <code>configs/nightly.yaml</code></h2>' in html
    assert '<h2 id="config-2">Gates of <code>configs/other.yaml</code></h2>' in html
    assert len(_charts(html)) == 6


def test_a_single_report_renders() -> None:
    html = render_trend_html(build_history([report(f.v_no_gates(), night(20))]))
    assert "1 report of 2026-11-20 02:00 UTC" in html
    assert "No gate ran in this report" in html and not _charts(html)


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [
        (0.8333333, Scale.PERCENT, "83.3%"),
        (1.0, Scale.PERCENT, "100%"),
        (0.0, Scale.PERCENT, "0%"),
        (2618.5, Scale.NUMBER, "2618"),
        (986.2499999, Scale.NUMBER, "986.2"),
        (3.075, Scale.NUMBER, "3.075"),
        (25000.0, Scale.NUMBER, "25000"),
        (1.5e7, Scale.NUMBER, "1.5e+07"),
        (0.0, Scale.NUMBER, "0"),
    ],
)
def test_axis_values(value: float, scale: Scale, text: str) -> None:
    assert format_value(value, scale) == text


def _series(values: list[float | None], threshold: float | None = None) -> Series:
    points = tuple(Point(v, "passed" if v is not None else None, "x") for v in values)
    return Series("metric.X.mean", "X · mean", "mean >= 4", threshold, Scale.NUMBER, points)


def test_a_fitted_axis_shows_the_threshold_and_every_value() -> None:
    chart = line_chart(_series([4.2, 4.4, None, 4.3], threshold=4.0), ["a", "b", "c", "d"], label="X")
    ticks = [float(t) for t in re.findall(r'<text class="ylabel"[^>]*>([^<]+)</text>', chart)]
    assert ticks[0] <= 4.0 and ticks[-1] >= 4.4
    assert '<line class="threshold"' in chart and len(re.findall(r'class="pt passed"', chart)) == 3


def test_date_labels_never_crowd_the_axis() -> None:
    """60 nights: the first and the last date are written, and few enough in between not to overlap."""
    dates = [f"Nov {day}" for day in range(60)]
    chart = line_chart(_series([4.0] * 60), dates, label="X")
    labels = re.findall(r'<text class="xlabel" x="([\d.]+)"[^>]*>([^<]+)</text>', chart)
    assert labels[0][1] == "Nov 0" and labels[-1][1] == "Nov 59"
    xs = [float(x) for x, _ in labels]
    assert all(b - a >= 6 * 6.8 + 12 for a, b in itertools.pairwise(xs))
