"""Report histories for the trend tests: verdicts from ``factories`` written as ``report.json`` text (the real
JSON reporter) and read back with the real parser, so the tests cover the whole path a nightly job takes."""

from __future__ import annotations

import dataclasses

from runner.history import History, Report, build_history, parse_report
from runner.model import CheckStatus, ExitCode, GateStatus, GateVerdict, Verdict, VerdictStatus
from runner.reporters.json_report import render_json

from . import factories as f

CONFIG = "configs/nightly.yaml"


def night(day: int) -> str:
    return f"2026-11-{day:02d}T02:00:00Z"


def dated(verdict: Verdict, started_at: str, config: str = CONFIG) -> Verdict:
    return dataclasses.replace(verdict, started_at=started_at, config_path=config)


def report_text(verdict: Verdict, started_at: str, config: str = CONFIG) -> str:
    return render_json(dated(verdict, started_at, config))


def report(verdict: Verdict, started_at: str, source: str = "report.json", config: str = CONFIG) -> Report:
    return parse_report(report_text(verdict, started_at, config), source)


def checkout(rate: float, p50: float, *, name: str = "checkout-agent") -> GateVerdict:
    """A gate with a success rate and two metric checks (latency in ms, politeness as a rate)."""

    def status(ok: bool) -> CheckStatus:
        return CheckStatus.PASSED if ok else CheckStatus.FAILED

    checks = (
        f.check(status=status(rate >= 0.9), observed=rate, observed_text=f"{rate * 100:.1f}% (20 runs)"),
        f.check(
            "metric.Latency.p50",
            status(p50 <= 2000),
            expression="p50 <= 2000",
            observed=p50,
            observed_text=f"{p50:g} (20 runs)",
        ),
        f.check(
            "metric.Politeness.pass_rate",
            expression="pass_rate >= 90%",
            observed=0.95,
            observed_text="95.0% (19/20 runs)",
        ),
    )
    passed = all(c.status is CheckStatus.PASSED for c in checks)
    return f.gate(name, GateStatus.PASSED if passed else GateStatus.FAILED, checks=checks)


def verdict_of(*gates: GateVerdict) -> Verdict:
    if all(g.status is GateStatus.PASSED for g in gates):
        return f.verdict(*gates)
    if any(g.status is GateStatus.FAILED for g in gates):
        return f.verdict(*gates, status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)
    return f.verdict(*gates, status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def nightly_verdicts() -> list[tuple[str, Verdict]]:
    """Five nights of one config: green, green, a regression, a timed-out checkout gate while billing was not
    run at all, and a regression again (the newest)."""
    billing = f.passing_gate("billing-agent")
    return [
        (night(20), verdict_of(checkout(0.95, 1500), billing)),
        (night(21), verdict_of(checkout(0.97, 1400), billing)),
        (night(22), verdict_of(checkout(0.80, 2600), billing)),
        (night(23), verdict_of(f.errored_gate("checkout-agent"))),
        (night(24), verdict_of(checkout(0.85, 2100), billing)),
    ]


def nightly_history() -> History:
    reports = [report(v, at, f"nightly/{i}/report.json") for i, (at, v) in enumerate(nightly_verdicts())]
    return build_history(reports)
