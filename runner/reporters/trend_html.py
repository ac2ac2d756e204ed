"""Trend page: ``render_trend_html(history) -> str``, one self-contained HTML page for nightly use.

What it shows, top to bottom: the time span and number of reports; the latest failures (every gate of the
newest report that did not pass, with its checks' observed vs required values); an overview row per gate;
then per gate a success-rate chart, charts of its key metrics (see ``runner.trend`` for what is charted and
how gaps are kept) and a table of its recent statuses.

Rules:

- **self-contained**: inline CSS and inline SVG only; no script, no external URL, no web font, and a
  Content-Security-Policy that forbids loading anything (should an escaping bug ever let markup through);
- **inert**: every text that comes from a report (gate names, reasons, check ids, config paths) is cleaned,
  bounded and HTML-escaped here or in ``svg_chart``;
- **deterministic**: equal histories give byte-identical pages; nothing depends on the current time.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from runner import __version__
from runner.history import CheckPoint, GateRecord, History, Report
from runner.model import GateStatus
from runner.reporters.svg_chart import line_chart
from runner.textclean import one_line
from runner.trend import ConfigTrend, GateTrend, Series, build_trends, failing_checks

__all__ = ["RECENT_STATUSES", "render_trend_html"]

RECENT_STATUSES = 10  # rows of each gate's status table
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  background: #f6f8fa; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; padding-bottom: 8px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 17px; margin: 0 0 10px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.meta { color: #59636e; margin: 2px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; color: #59636e; margin: 8px 0 0; padding: 0;
  list-style: none; }
.k-passed { color: #1a7f37; } .k-failed { color: #cf222e; } .k-other { color: #9a6700; }
.k-computed { color: #0969da; } .k-threshold { color: #cf222e; letter-spacing: -1px; }
.k-gap { display: inline-block; width: 12px; height: 12px; background: #8c959f; opacity: .35;
  vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 6px 0 14px; }
th, td { text-align: left; padding: 5px 9px; border: 1px solid #d0d7de; vertical-align: top;
  overflow-wrap: break-word; }
.scroll { overflow-x: auto; }
th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.when { white-space: nowrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  line-height: 20px; white-space: nowrap; border: 1px solid transparent; }
.s-passed { background: #dafbe1; color: #116329; border-color: #aceebb; }
.s-failed { background: #ffebe9; color: #a40e26; border-color: #ffcecb; }
.s-error, .s-inconclusive, .s-incomplete, .s-interrupted { background: #fff8c5; color: #7d4e00;
  border-color: #f5e0a0; }
.s-missing { background: #eef1f4; color: #59636e; border-color: #d0d7de; }
.gate { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px; margin: 0 0 18px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px;
  margin-bottom: 12px; }
figure { margin: 0; border: 1px solid #d8dee4; border-radius: 6px; padding: 8px 8px 2px; }
figcaption { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 2px 12px;
  font-size: 13px; }
figcaption .title { font-weight: 600; }
figcaption .req, figcaption .latest { color: #59636e; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #59636e; }
.note { color: #59636e; font-size: 13px; }
.ok { color: #116329; font-weight: 600; }
caption { text-align: left; caption-side: top; padding: 0 0 4px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
"""


def _e(text: str, limit: int = 300) -> str:
    """Report text, on one line, bounded and escaped for HTML text and attribute values."""
    return escape(one_line(text, limit), quote=True)


def _when(report: Report) -> str:
    return report.moment.strftime("%Y-%m-%d %H:%M UTC")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _axis_dates(reports: Sequence[Report]) -> list[str]:
    """Short x-axis labels (English month names, whatever the locale): ``Nov 26`` when every report is on
    its own day, ``Nov 26 03:00`` otherwise; ISO days when the history spans more than one year."""
    moments = [r.moment for r in reports]
    one_per_day = len({m.date() for m in moments}) == len(moments)
    if len({m.year for m in moments}) > 1:
        return [m.strftime("%Y-%m-%d" if one_per_day else "%Y-%m-%d %H:%M") for m in moments]
    days = [f"{_MONTHS[m.month - 1]} {m.day}" for m in moments]
    return days if one_per_day else [f"{day} {m:%H:%M}" for day, m in zip(days, moments, strict=True)]


def _badge(status: str, *, blocking: bool = True) -> str:
    label = status if blocking else f"{status} (non-blocking)"
    return f'<span class="badge s-{escape(status)}">{escape(label)}</span>'


def _gate_badge(record: GateRecord | None) -> str:
    if record is None:
        return _badge("missing")
    return _badge(record.status.value, blocking=record.blocking or record.status is GateStatus.PASSED)


def render_trend_html(history: History) -> str:
    """The trend page of ``history`` (at least one report)."""
    configs = build_trends(history)
    first, last = history.reports[0], history.reports[-1]
    span = _when(first) if first is last else f"{_when(first)} – {_when(last)}"
    period = f"of {_when(first)}" if first is last else f"from {_when(first)} to {_when(last)}"
    count = len(history.reports)
    title = f"regate trend: {count} report{'s' * (count != 1)}, {span}"
    body = [
        "<header>",
        "<h1>regate trend report</h1>",
        f'<p class="meta">{count} report{"s" * (count != 1)} {escape(period)}</p>',
        f'<p class="meta">Config{"s" * (len(configs) != 1)}: '
        + ", ".join(f"<code>{_e(c.config_path)}</code>" for c in configs)
        + "</p>",
        _legend(),
        "</header>",
        "<main>",
        _latest_failures(configs),
        _overview(configs),
    ]
    for index, config in enumerate(configs, start=1):
        if len(configs) > 1:
            body.append(f'<h2 id="config-{index}">Gates of <code>{_e(config.config_path)}</code></h2>')
        else:
            body.append('<h2 id="gates">Gates</h2>')
        if not config.gates:
            body.append('<p class="note">No gate ran in any of these reports.</p>')
        dates = _axis_dates(config.reports)
        for number, gate in enumerate(config.gates, start=1):
            body.append(_gate_section(gate, config, dates, f"gate-{index}-{number}"))
    body.append("</main>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="regate {escape(__version__)}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _legend() -> str:
    items = [
        '<span class="k-passed">●</span> check passed',
        '<span class="k-failed">◆</span> check failed',
        '<span class="k-other">○</span> inconclusive or error',
        '<span class="k-computed">●</span> from the runs (no success_rate check)',
        '<span class="k-threshold">- - -</span> required value (newest report)',
        '<span class="k-gap"></span> no value in that report',
    ]
    return '<ul class="legend" aria-label="Legend">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


# --- latest failures -------------------------------------------------------------------------------------


def _latest_failures(configs: Sequence[ConfigTrend]) -> str:
    parts = ['<section id="latest-failures">', "<h2>Latest failures</h2>"]
    for config in configs:
        newest = config.reports[-1]
        where = f" of <code>{_e(config.config_path)}</code>" if len(configs) > 1 else ""
        parts.append(
            f'<p class="meta">Newest report{where}: {escape(_when(newest))} — {_badge(newest.status.value)}'
            f" exit code {newest.exit_code}</p>"
        )
        rows = _failure_rows(newest)
        if rows:
            parts.append(
                '<div class="scroll"><table class="failures"><thead><tr><th>Gate</th><th>Gate status</th>'
                "<th>Check</th><th>Observed</th><th>Required</th><th>Check status</th></tr></thead><tbody>"
                + "".join(rows)
                + "</tbody></table></div>"
            )
        elif newest.gates:
            parts.append(f'<p class="ok">Every gate passed ({len(newest.gates)}).</p>')
        else:
            parts.append('<p class="note">No gate ran in this report: no verdict was possible.</p>')
        if newest.runner_errors:
            parts.append(
                '<p class="note">Runner errors:</p><ul class="runner-errors">'
                + "".join(f"<li>{_e(error, 500)}</li>" for error in newest.runner_errors)
                + "</ul>"
            )
    parts.append("</section>")
    return "\n".join(parts)


def _failure_rows(report: Report) -> list[str]:
    rows: list[str] = []
    for gate in report.gates:
        if gate.status is GateStatus.PASSED:
            continue
        name, status = f"<td>{_e(gate.name, 200)}</td>", f"<td>{_gate_badge(gate)}</td>"
        checks = failing_checks(gate)
        if not checks:
            why = gate.reasons[0] if gate.reasons else "no check was evaluated"
            rows.append(f"<tr>{name}{status}<td>—</td><td>{_e(why, 500)}</td><td>—</td><td>—</td></tr>")
        for check in checks:
            rows.append(
                f"<tr>{name}{status}<td><code>{_e(check.check_id, 200)}</code></td>"
                f"<td>{_e(_observed(check))}</td><td><code>{_e(check.expression)}</code></td>"
                f"<td>{_badge(check.status.value)}</td></tr>"
            )
    return rows


def _observed(check: CheckPoint) -> str:
    """What was observed; for a check without a value, its summary says why (``no verdict: timed out``)."""
    return check.observed_text if check.observed is not None else check.summary


def _why_error(record: GateRecord) -> str | None:
    """Why a gate has no verdict: its first reason, else the summary of its first check that did not pass."""
    if record.status is not GateStatus.ERROR:
        return None
    if record.reasons:
        return record.reasons[0]
    checks = failing_checks(record)
    return checks[0].summary if checks else None


# --- overview and one section per gate -------------------------------------------------------------------


def _overview(configs: Sequence[ConfigTrend]) -> str:
    several = len(configs) > 1
    head = "<th>Config</th>" * several + (
        "<th>Gate</th><th>Newest</th><th>Passed</th><th>Success rate (newest)</th>"
    )
    rows = []
    for index, config in enumerate(configs, start=1):
        for number, gate in enumerate(config.gates, start=1):
            present = [r for r in gate.records if r is not None]
            passed = sum(1 for r in present if r.status is GateStatus.PASSED)
            latest = gate.success.points[-1]
            rate = _e(latest.text, 80) if latest.value is not None else "—"
            config_cell = f"<td><code>{_e(config.config_path)}</code></td>" * several
            rows.append(
                f'<tr>{config_cell}<td><a href="#gate-{index}-{number}">{_e(gate.name, 200)}</a></td>'
                f"<td>{_gate_badge(gate.records[-1])}</td>"
                f'<td class="num">{passed} of {len(present)} reports</td><td class="num">{rate}</td></tr>'
            )
    if not rows:
        return ""
    return (
        '<section id="overview"><h2>Overview</h2><div class="scroll"><table class="overview"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


def _figure(series: Series, gate: GateTrend, dates: Sequence[str]) -> str:
    latest = next((p for p in reversed(series.points) if p.value is not None), None)
    latest_text = f"latest {one_line(latest.text, 80)}" if latest is not None else "no value yet"
    required = f"required {series.required}" if series.required else "no threshold"
    label = (
        f"{series.title} of gate {one_line(gate.name, 200)} over {len(dates)} reports:"
        f" {latest_text}; {required}"
    )
    return (
        f'<figure class="trend" data-series="{_e(series.key, 200)}"><figcaption>'
        f'<span class="title">{_e(series.title, 200)}</span>'
        f'<span class="req">{_e(required, 200)}</span>'
        f'<span class="latest">{_e(latest_text, 120)}</span></figcaption>'
        + line_chart(series, dates, label=one_line(label, 500))
        + "</figure>"
    )


def _gate_section(gate: GateTrend, config: ConfigTrend, dates: Sequence[str], anchor: str) -> str:
    parts = [
        f'<section class="gate" id="{anchor}">',
        f"<h3>{_e(gate.name, 200)} {_gate_badge(gate.records[-1])}</h3>",
        '<div class="charts">',
        _figure(gate.success, gate, dates),
        *(_figure(series, gate, dates) for series in gate.metrics),
        "</div>",
    ]
    if gate.omitted:
        parts.append(
            f'<p class="note">Not charted (at most {len(gate.metrics)} metric checks per gate): '
            + ", ".join(f"<code>{_e(check_id, 120)}</code>" for check_id in gate.omitted)
            + "</p>"
        )
    parts.append(_status_table(gate, config))
    parts.append("</section>")
    return "\n".join(parts)


def _status_table(gate: GateTrend, config: ConfigTrend) -> str:
    rows = []
    recent = list(zip(config.reports, gate.records, gate.success.points, strict=True))[-RECENT_STATUSES:]
    for report, record, point in reversed(recent):
        when = f'<td class="when">{escape(_when(report))}</td>'
        if record is None:
            rows.append(f'<tr>{when}<td>{_badge("missing")}</td><td colspan="2">not in this report</td></tr>')
            continue
        not_passed = failing_checks(record)
        checks = ", ".join(f"<code>{_e(c.check_id, 120)}</code>" for c in not_passed[:8])
        if len(not_passed) > 8:
            checks += f" and {len(not_passed) - 8} more"
        why = _why_error(record)
        if why:
            checks = f"<em>{_e(why, 200)}</em>" + (f"<br>{checks}" if checks else "")
        rate = _e(point.text, 80) if point.value is not None else "—"
        cells = f'<td>{_gate_badge(record)}</td><td class="num">{rate}</td><td>{checks or "—"}</td>'
        rows.append(f"<tr>{when}{cells}</tr>")
    shown = len(recent)
    caption = f"Recent statuses (newest first, {shown} of {len(config.reports)} reports)"
    return (
        f'<div class="scroll"><table class="statuses"><caption class="note">{caption}</caption>'
        "<thead><tr><th>Started</th><th>Status</th><th>Success rate</th><th>Checks not passed</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )
