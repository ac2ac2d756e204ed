"""Regression against a baseline: the change language, the config, the checks, baselines and the CLI.

A change check compares a gate's runs with its baseline's: rates with statistics (a real drop fails, a
wobble too small to tell is "not significant": a pass when lenient, inconclusive when strict), other
aggregates as point estimates; too few runs, runs without a verdict or a missing baseline never pass
unless the config says so (``on_missing: pass``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from runner import cli
from runner.baseline import fetch_result_baselines, load_report_baselines, save_baseline
from runner.change_checks import Baseline, MissingBaseline, change_check, confident_rate_check
from runner.checks import Tally
from runner.config import load_config
from runner.errors import ConfigError, ThresholdSyntaxError, UsageError
from runner.model import CheckStatus, ExitCode, MetricKind, MetricValue, RunOutcome, RunRecord, RunVerdict
from runner.providers import open_providers
from runner.settings import Decide, OnMissing, Statistics
from runner.threshold_types import ChangeUnit, Comparison, Direction, Op
from runner.thresholds import compile_thresholds

REPO = Path(__file__).resolve().parents[1]
LENIENT = Statistics(mode=Decide.LENIENT)
STRICT = Statistics(mode=Decide.STRICT)


def runs(
    passed: int, failed: int, *, scenario: str = "Refunds", latency: float | None = None
) -> tuple[RunVerdict, ...]:
    made = []
    for i in range(passed + failed):
        ok = i < passed
        metrics = (MetricValue("504", "Latency", MetricKind.NUMERIC, latency),) if latency is not None else ()
        record = RunRecord(f"r{i}", scenario, "205", None, "completed", True, ok, False, metrics=metrics)
        made.append(
            RunVerdict(record, RunOutcome.PASSED if ok else RunOutcome.FAILED, f"{scenario} #{i:02d}")
        )
    return tuple(made)


def change(text: str, metric: str | None = None):  # type: ignore[no-untyped-def]
    raw = {"success_rate": text} if metric is None else {"metrics": {metric: text}}
    (check,) = compile_thresholds(raw).changes
    return check


# --- the language -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "text", "check_id", "unit", "limit"),
    [
        (None, "drop <= 5pp", "success_rate.drop", ChangeUnit.POINTS, 0.05),
        (None, "DROP < 2.5pp", "success_rate.drop", ChangeUnit.POINTS, 0.025),
        ("Latency", "p50 increase <= 10%", "metric.Latency.p50.increase", ChangeUnit.RELATIVE, 0.10),
        ("CSAT", "mean drop <= 0.3", "metric.CSAT.mean.drop", ChangeUnit.ABSOLUTE, 0.3),
        ("Greeting", "pass_rate drop <= 5pp", "metric.Greeting.pass_rate.drop", ChangeUnit.POINTS, 0.05),
        (
            "Tone",
            "rate(positive, neutral) drop <= 10pp",
            "metric.Tone.rate(positive,neutral).drop",
            ChangeUnit.POINTS,
            0.1,
        ),
    ],
)
def test_a_change_names_a_direction_an_upper_bound_and_a_unit(
    metric: str | None, text: str, check_id: str, unit: ChangeUnit, limit: float
) -> None:
    check = change(text, metric)
    assert (
        check.check_id == check_id
        and check.change.unit is unit
        and check.change.limit == pytest.approx(limit)
    )


def test_success_rate_may_hold_an_absolute_rate_and_a_change_together() -> None:
    thresholds = compile_thresholds({"success_rate": [">= 80%", "drop <= 5pp"]})
    assert thresholds.success_rate == Comparison(Op.GE, 0.8, True, ">= 80%")
    assert [c.text for c in thresholds.changes] == ["drop <= 5pp"]
    assert thresholds.changes[0].change.direction is Direction.DROP


@pytest.mark.parametrize(
    ("raw", "message", "hint"),
    [
        ({"success_rate": "drop <= 5%"}, "written in percentage points", 'write "drop <= 5pp"'),
        ({"success_rate": "drop <= 5"}, "needs its unit, pp", 'write "drop <= 5pp"'),
        ({"success_rate": "drop >= 5pp"}, "bounded from above", "<= 5pp"),
        ({"success_rate": ["drop <= 5pp", "drop <= 2pp"]}, "two changes", "keep one"),
        ({"metrics": {"Latency": "p50 drop <= 5pp"}}, "pp (percentage points) is for rates", '"5%"'),
        ({"metrics": {"Latency": "count increase <= 1"}}, "count takes no drop", "pass_rate"),
        ({"metrics": {"Latency": "drop <= 5pp"}}, "names its aggregate", "p50 increase"),
    ],
)
def test_a_wrong_change_says_how_to_write_it(raw: dict[str, object], message: str, hint: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as caught:
        compile_thresholds(raw)
    assert message in caught.value.message and hint in (caught.value.hint or "")


# --- the config ---------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, base_url: str = "https://api.example.test") -> str:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"version: 1\nproviders: {{cekura: {{base_url: '{base_url}', api_key: k}}}}\n" + text,
        encoding="utf-8",
    )
    return str(path)


def test_baseline_and_statistics_are_inherited_from_defaults_and_overridden_per_gate(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "defaults:\n  baseline: {report: base/main.json}\n"
            "  statistics: {mode: lenient, confidence: 0.9}\n"
            "gates:\n"
            "  - {name: a, agent: 1, scenarios: [1], thresholds: {success_rate: 'drop <= 5pp'}}\n"
            "  - name: b\n    agent: 1\n    scenarios: [1]\n    baseline: {result: 4521, on_missing: fail}\n"
            "    statistics: {min_runs: 30}\n",
        ),
        {},
    )
    a, b = config.gates
    assert a.baseline is not None and a.baseline.report == str(tmp_path / "base" / "main.json")
    assert a.statistics == Statistics(confidence=0.9, mode=Decide.LENIENT, min_runs=10)
    assert b.baseline is not None and (b.baseline.result, b.baseline.report) == ("4521", None)
    assert b.baseline.on_missing is OnMissing.FAIL
    assert b.statistics == Statistics(confidence=0.9, mode=Decide.LENIENT, min_runs=30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "gates:\n  - {name: a, agent: 1, scenarios: [1], thresholds: {success_rate: 'drop <= 5pp'}}\n",
            "compares with a baseline, but the gate has none",
        ),
        (
            "defaults:\n  baseline: {result: 12}\ngates: [{name: a, agent: 1, scenarios: [1]}]\n",
            "one gate's baseline",
        ),
        (
            "gates:\n  - {name: a, agent: 1, scenarios: [1], baseline: {report: x.json, result: 3}}\n",
            "'report' and 'result' both name a baseline",
        ),
        (
            "gates:\n  - {name: a, agent: 1, scenarios: [1], baseline: {on_missing: maybe, report: x}}\n",
            "on_missing",
        ),
        ("gates:\n  - {name: a, agent: 1, scenarios: [1], statistics: {confidence: 1.2}}\n", "below 1"),
        ("gates:\n  - {name: a, agent: 1, scenarios: [1], statistics: {mode: loose}}\n", "strict, lenient"),
    ],
)
def test_a_baseline_or_statistics_mistake_is_a_located_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert message in f"{caught.value.message} {caught.value.hint}"
    assert caught.value.line is not None


# --- the checks ---------------------------------------------------------------------------------------


def judge(check_text: str, base: Sequence[RunVerdict], current: Sequence[RunVerdict], statistics: Statistics,
          metric: str | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    return change_check(
        change(check_text, metric),
        Tally.of(tuple(current)),
        Baseline("report b.json", tuple(base)),
        statistics,
    )


def test_a_clear_drop_fails_in_both_modes_and_says_why() -> None:
    """29/30 -> 21/30: a 26.7-point drop; the one-sided 95% lower bound of the drop is above 5 points."""
    for statistics in (LENIENT, STRICT):
        result = judge("drop <= 5pp", runs(29, 1), runs(21, 9), statistics)
        assert result.status is CheckStatus.FAILED
        assert "a real drop beyond the allowed 5pp" in result.summary
        assert result.p_value is not None and result.p_value < 0.05
        assert result.baseline == pytest.approx(29 / 30) and result.observed == pytest.approx(8 / 30)


def test_a_small_wobble_with_few_runs_is_not_significant_a_pass_when_lenient_inconclusive_when_strict() -> (
    None
):
    """19/20 -> 9/10 (a 5-point wobble): the interval of the drop spans both sides of 5 points."""
    lenient = judge("drop <= 5pp", runs(19, 1), runs(9, 1), LENIENT)
    strict = judge("drop <= 5pp", runs(19, 1), runs(9, 1), STRICT)
    assert (
        lenient.status is CheckStatus.PASSED and "not significantly beyond the allowed 5pp" in lenient.summary
    )
    assert strict.status is CheckStatus.INCONCLUSIVE and "too uncertain" in strict.summary


def test_too_few_runs_on_either_side_never_pass() -> None:
    result = judge("drop <= 5pp", runs(30, 0), runs(4, 0), LENIENT)
    assert result.status is CheckStatus.INCONCLUSIVE
    assert "too few runs to decide: 4 current, 30 baseline, at least 10 needed" in result.summary


def test_runs_without_a_verdict_make_the_change_inconclusive() -> None:
    current = list(runs(10, 0))
    current[0] = RunVerdict(current[0].record, RunOutcome.INCOMPLETE, current[0].name)
    result = judge("drop <= 5pp", runs(10, 0), current, LENIENT)
    assert (
        result.status is CheckStatus.INCONCLUSIVE and "1 of 10 current runs have no verdict" in result.summary
    )


def test_an_increase_of_a_rate_is_judged_the_other_way() -> None:
    result = judge("increase <= 5pp", runs(21, 9), runs(29, 1), LENIENT)
    assert result.status is CheckStatus.FAILED and "a real increase beyond" in result.summary


def test_per_scenario_details_flag_unstable_scenarios() -> None:
    result = judge("drop <= 50pp", runs(10, 0, scenario="Refunds"), runs(6, 4, scenario="Refunds"), LENIENT)
    assert "Refunds: 10/10 → 6/10 (unstable)" in result.details


@pytest.mark.parametrize(
    ("text", "base_latency", "current_latency", "status"),
    [
        ("p50 increase <= 10%", 1000.0, 1090.0, CheckStatus.PASSED),
        ("p50 increase <= 10%", 1000.0, 1150.0, CheckStatus.FAILED),
        ("mean drop <= 50", 1000.0, 940.0, CheckStatus.FAILED),
        ("mean drop <= 50", 1000.0, 1200.0, CheckStatus.PASSED),  # it rose: no drop at all
        ("p50 increase <= 10%", 0.0, 5.0, CheckStatus.INCONCLUSIVE),  # relative to 0 is undefined
    ],
)
def test_other_aggregates_compare_point_estimates(
    text: str, base_latency: float, current_latency: float, status: CheckStatus
) -> None:
    result = judge(
        text, runs(10, 0, latency=base_latency), runs(10, 0, latency=current_latency), LENIENT, "Latency"
    )
    assert result.status is status, result.summary


@pytest.mark.parametrize(
    ("baseline", "status"),
    [
        (MissingBaseline("report b.json", "the file does not exist", OnMissing.PASS), CheckStatus.PASSED),
        (MissingBaseline("report b.json", "the file does not exist", OnMissing.FAIL), CheckStatus.FAILED),
        (
            MissingBaseline("report b.json", "the file does not exist", OnMissing.INCONCLUSIVE),
            CheckStatus.INCONCLUSIVE,
        ),
        # a baseline that exists but could not be read may well say "regression": never the policy
        (
            MissingBaseline("result 7", "could not be fetched: 503", OnMissing.PASS, unreadable=True),
            CheckStatus.INCONCLUSIVE,
        ),
    ],
)
def test_a_missing_baseline_follows_its_policy_and_an_unreadable_one_is_inconclusive(
    baseline: MissingBaseline, status: CheckStatus
) -> None:
    result = change_check(change("drop <= 5pp"), Tally.of(runs(10, 0)), baseline, LENIENT)
    assert result.status is status and "no baseline (" in result.summary


def test_a_confidence_on_an_absolute_rate_judges_its_wilson_bound() -> None:
    """17/20 = 85% against ">= 80%": the 95% lower bound is about 67%, so strict cannot show it."""
    rate = Comparison(Op.GE, 0.8, True, ">= 80%")
    tally = Tally.of(runs(17, 3))
    strict = confident_rate_check(rate, Statistics(confidence=0.95, mode=Decide.STRICT), tally)
    lenient = confident_rate_check(rate, Statistics(confidence=0.95, mode=Decide.LENIENT), tally)
    assert strict.status is CheckStatus.INCONCLUSIVE and lenient.status is CheckStatus.PASSED
    assert "85% [64–95] (17/20 runs)" in strict.summary
    clearly_below = confident_rate_check(
        rate, Statistics(confidence=0.95, mode=Decide.LENIENT), Tally.of(runs(8, 12))
    )
    assert clearly_below.status is CheckStatus.FAILED


# --- baselines from reports, and from the platform ----------------------------------------------------


def demo_report(tmp_path: Path, config: str = "demo.yaml") -> Path:
    out = tmp_path / config.removesuffix(".yaml")
    code = cli.main(["run", str(REPO / "configs" / config), "--out", str(out), "--quiet"], env={})
    assert code in (ExitCode.OK, ExitCode.REGRESSION)
    return out / "report.json"


def test_save_blesses_a_passing_report_and_refuses_failed_or_broken_ones(tmp_path: Path) -> None:
    good, bad = demo_report(tmp_path), demo_report(tmp_path, "demo-regression.yaml")
    assert "3 gate(s)" in save_baseline(good, tmp_path / "b" / "main.json")
    assert json.loads((tmp_path / "b" / "main.json").read_text(encoding="utf-8"))["status"] == "passed"
    with pytest.raises(UsageError, match="did not pass"):
        save_baseline(bad, tmp_path / "x.json")
    assert save_baseline(bad, tmp_path / "x.json", allow_failed=True)
    broken = tmp_path / "broken.json"
    document = json.loads(good.read_text(encoding="utf-8"))
    del document["gates"][0]["runs"][0]["outcome"]
    broken.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UsageError, match="not a complete regate report"):
        save_baseline(broken, tmp_path / "y.json")


def test_report_baselines_are_found_by_gate_name_and_a_missing_file_or_gate_is_missing(
    tmp_path: Path,
) -> None:
    save_baseline(demo_report(tmp_path), tmp_path / "main.json")
    config = load_config(
        write(
            tmp_path,
            "defaults: {baseline: {report: main.json}}\ngates:\n"
            "  - {name: smoke, agent: 1, scenarios: [1]}\n  - {name: brand-new, agent: 1, scenarios: [1]}\n"
            "  - name: other\n    agent: 1\n    scenarios: [1]\n"
            "    baseline: {report: nowhere.json, on_missing: pass}\n",
        ),
        {},
    )
    found = load_report_baselines(config)
    assert isinstance(found["smoke"], Baseline) and len(found["smoke"].runs) == 12
    assert isinstance(found["brand-new"], MissingBaseline) and "is not in it" in found["brand-new"].reason
    other = found["other"]
    assert isinstance(other, MissingBaseline) and other.policy is OnMissing.PASS and not other.unreadable


def test_a_result_baseline_is_fetched_from_the_platform_and_an_unknown_id_is_missing(
    tmp_path: Path,
) -> None:
    from runner.simulator.server import SimServer, build_app

    with SimServer(build_app(None, 1000.0, 3, None, ["k"]), "127.0.0.1", 0) as server:
        # a finished result to compare with: run the healthy agent once
        first = tmp_path / "first.yaml"
        first.write_text(
            f"version: 1\nproviders: {{cekura: {{base_url: '{server.base_url}', api_key: k}}}}\n"
            "defaults: {poll: {initial: 100ms, max: 200ms}}\n"
            "gates: [{name: smoke, agent: 101, scenarios: [201, 202], frequency: 5}]\n",
            encoding="utf-8",
        )
        assert cli.main(["run", str(first), "--out", str(tmp_path / "o"), "--quiet"], env={}) == ExitCode.OK
        result_id = json.loads((tmp_path / "o" / "report.json").read_text())["gates"][0]["execution"][
            "result"
        ]["result_id"]
        config = load_config(
            write(
                tmp_path,
                "gates:\n"
                f"  - {{name: smoke, agent: 101, scenarios: [201], baseline: {{result: {result_id}}}}}\n"
                "  - {name: gone, agent: 101, scenarios: [201], baseline: {result: 999999}}\n",
                server.base_url,
            ),
            {},
        )

        async def fetch() -> dict[str, Baseline | MissingBaseline]:
            async with open_providers(config) as providers:
                return await fetch_result_baselines(config, providers)

        found = anyio.run(fetch)
    assert isinstance(found["smoke"], Baseline) and len(found["smoke"].runs) == 10
    gone = found["gone"]
    assert (
        isinstance(gone, MissingBaseline)
        and gone.reason == "the platform has no such result"
        and not gone.unreadable
    )


# --- end to end on the simulator ----------------------------------------------------------------------


def comparison_config(tmp_path: Path, agent: int, frequency: int, mode: str) -> Path:
    path = tmp_path / f"cmp-{agent}-{mode}.yaml"
    path.write_text(
        "version: 1\nsimulator: {speed: 600, seed: 5}\nproviders: {cekura: {base_url: simulator}}\n"
        "defaults:\n  timeout: 5m\n  poll: {initial: 100ms, max: 500ms}\n"
        f"  baseline: {{report: main.json}}\n  statistics: {{mode: {mode}}}\n"
        f"gates:\n  - name: smoke\n    agent: {agent}\n    scenarios: [201, 202, 203, 204, 205, 206]\n"
        f"    frequency: {frequency}\n    thresholds: {{success_rate: 'drop <= 5pp'}}\n",
        encoding="utf-8",
    )
    return path


def baseline_run(tmp_path: Path, frequency: int) -> None:
    config = comparison_config(tmp_path, 101, frequency, "lenient")
    text = config.read_text(encoding="utf-8").replace("    thresholds: {success_rate: 'drop <= 5pp'}\n", "")
    config.write_text(text.replace("  baseline: {report: main.json}\n", ""), encoding="utf-8")
    out = tmp_path / "nightly"
    assert cli.main(["run", str(config), "--out", str(out), "--quiet"], env={}) in (
        ExitCode.OK,
        ExitCode.REGRESSION,
    )
    assert (
        cli.main(
            [
                "baseline",
                "save",
                str(out / "report.json"),
                "--to",
                str(tmp_path / "main.json"),
                "--allow-failed",
            ],
            env={},
        )
        == 0
    )


def test_on_the_simulator_a_real_drop_with_30_runs_a_side_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Baseline: the healthy agent (97% true success), 30 runs. Current: the regressed agent (refund
    scenarios at 20-35%), 30 runs: a drop of tens of points, beyond 5 even at its one-sided lower bound."""
    baseline_run(tmp_path, 5)
    code = cli.main(
        ["run", str(comparison_config(tmp_path, 102, 5, "strict")), "--out", str(tmp_path / "cur")], env={}
    )
    assert code == ExitCode.REGRESSION
    report = json.loads((tmp_path / "cur" / "report.json").read_text(encoding="utf-8"))
    (check,) = [c for c in report["gates"][0]["checks"] if c["check_id"] == "success_rate.drop"]
    assert check["status"] == "failed" and check["p_value"] < 0.01 and "(30 vs 30 runs)" in check["summary"]
    assert "a real drop beyond the allowed 5pp" in (tmp_path / "cur" / "summary.md").read_text(
        encoding="utf-8"
    )


def test_on_the_simulator_the_same_agent_with_10_runs_a_side_is_not_significant(tmp_path: Path) -> None:
    """The same healthy agent again, 12 runs a side: whatever it wobbles, 12 runs cannot show a change of
    5 points either way, so lenient passes and strict is inconclusive (exit 3, never green by accident)."""
    baseline_run(tmp_path, 2)
    lenient = cli.main(
        ["run", str(comparison_config(tmp_path, 101, 2, "lenient")), "--out", str(tmp_path / "l"), "--quiet"],
        env={},
    )
    strict = cli.main(
        ["run", str(comparison_config(tmp_path, 101, 2, "strict")), "--out", str(tmp_path / "s"), "--quiet"],
        env={},
    )
    assert (lenient, strict) == (ExitCode.OK, ExitCode.INCOMPLETE)
    summary = (tmp_path / "l" / "summary.md").read_text(encoding="utf-8")
    assert "### Against the baseline" in summary and "not significantly beyond the allowed 5pp" in summary


def test_a_confidence_on_a_metrics_pass_rate_judges_its_wilson_bound_too() -> None:
    from runner.change_checks import confident_metric_rate_check
    from runner.threshold_types import Aggregate, MetricCheck

    def greeted(passed: int, failed: int) -> Tally:
        made = []
        for i in range(passed + failed):
            value = MetricValue(
                "502", "Greeting", MetricKind.BINARY, 1.0 if i < passed else 0.0, passed=i < passed
            )
            record = RunRecord(
                f"r{i}", "Greeting", "201", None, "completed", True, True, False, metrics=(value,)
            )
            made.append(RunVerdict(record, RunOutcome.PASSED, f"Greeting #{i:02d}"))
        return Tally.of(tuple(made))

    check = MetricCheck("Greeting", Aggregate.PASS_RATE, (), Comparison(Op.GE, 0.8, True, ">= 80%"),
                        "pass_rate >= 80%", "metric.Greeting.pass_rate")  # fmt: skip
    strict = confident_metric_rate_check(
        check, Statistics(confidence=0.95, mode=Decide.STRICT), greeted(17, 3)
    )
    assert strict.status is CheckStatus.INCONCLUSIVE and "85% [64–95] (17/20 runs)" in strict.summary
    assert "pass_rate 85% [64–95] over 20 runs" in strict.summary
    sure = confident_metric_rate_check(
        check, Statistics(confidence=0.95, mode=Decide.STRICT), greeted(100, 0)
    )
    assert sure.status is CheckStatus.PASSED
