"""Gate labels (`labels:` + `--label`/`--tag`) and advisory gates (`blocking: false`).

A non-blocking gate is run and judged like any other; it is reported everywhere (as a warning, a JUnit
skip, a Markdown note) but never decides the exit code. Labels select gates; a label on no gate is a usage
error, never a silently smaller run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from runner import cli
from runner.config import load_config
from runner.errors import ConfigError, UsageError
from runner.gate import exit_code_for
from runner.merge import merge
from runner.model import ExitCode, GateStatus
from runner.plan import render_plan, select_gates
from runner.reporters.json_report import render_json
from runner.reporters.junit import render_junit
from runner.reporters.markdown import render_markdown
from tests.reporters import factories as f
from tests.reporters.xml_support import parse
from tests.test_orchestrator import config, spec

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, gates: str) -> Path:
    path = tmp_path / "regate.yaml"
    path.write_text(
        "version: 1\nproviders: {cekura: {base_url: 'https://api.example.test', api_key: k}}\ngates:\n"
        + gates,
        encoding="utf-8",
    )
    return path


# --- config -------------------------------------------------------------------------------------------


def test_labels_and_blocking_are_read_for_both_providers_in_file_order_without_duplicates() -> None:
    cfg = load_config(str(REPO / "configs" / "demo.yaml"), {})
    assert [(g.name, g.labels, g.blocking) for g in cfg.gates] == [
        ("smoke", ("pr", "nightly"), True),
        ("refunds", ("nightly",), True),
        ("faq", ("nightly",), True),
    ]


def test_a_gate_without_labels_or_blocking_is_unlabelled_and_blocking(tmp_path: Path) -> None:
    gate = load_config(str(write(tmp_path, "  - {name: a, agent: 1, scenarios: [1]}\n")), {}).gates[0]
    assert gate.labels == () and gate.blocking is True


def test_repeated_labels_are_kept_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, "  - {name: a, agent: 1, scenarios: [1], labels: [pr, pr, nightly], blocking: false}\n"
    )
    gate = load_config(str(path), {}).gates[0]
    assert gate.labels == ("pr", "nightly") and gate.blocking is False


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ("labels: pr", "gates[0].labels"),
        ("labels: ['with space']", "may only contain letters"),
        ("labels: [[nested]]", "gates[0].labels[0]"),
        ("blocking: 'no'", "expected true or false"),
        ("blocking: 0", "expected true or false"),
    ],
)
def test_a_bad_label_or_blocking_value_is_a_located_config_error(
    tmp_path: Path, gate: str, message: str
) -> None:
    path = write(tmp_path, f"  - name: a\n    agent: 1\n    scenarios: [1]\n    {gate}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {})
    text = str(caught.value) + " " + (caught.value.hint or "")
    assert message in text and "regate.yaml:7: " in text  # the line of the key


# --- selection ----------------------------------------------------------------------------------------


def labelled() -> object:
    return config(
        replace(spec("smoke"), labels=("pr",)),
        replace(spec("full"), labels=("nightly",)),
        replace(spec("quick"), labels=("pr", "nightly")),
        spec("bare"),
    )


def test_a_label_keeps_the_gates_that_carry_it_and_only_combines_with_it() -> None:
    cfg = labelled()
    assert [g.name for g in select_gates(cfg, [], ["pr"]).gates] == ["smoke", "quick"]  # type: ignore[arg-type]
    assert [g.name for g in select_gates(cfg, [], ["pr", "nightly"]).gates] == ["smoke", "full", "quick"]  # type: ignore[arg-type]
    assert [g.name for g in select_gates(cfg, ["q*"], ["pr"]).gates] == ["quick"]  # type: ignore[arg-type]
    assert select_gates(cfg, [], []).gates == cfg.gates  # type: ignore[arg-type, attr-defined]


def test_a_label_on_no_gate_or_an_empty_combination_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--label 'nigthly' is on no gate") as caught:
        select_gates(labelled(), [], ["nigthly"])  # type: ignore[arg-type]
    assert caught.value.hint == "the labels are: nightly, pr"
    with pytest.raises(UsageError, match="no gate matches both"):
        select_gates(labelled(), ["full"], ["pr"])  # type: ignore[arg-type]


def test_tag_is_an_alias_of_label_on_run_and_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["plan", str(REPO / "configs" / "demo.yaml"), "--tag", "pr"], env={})
    out = capsys.readouterr().out
    assert code == ExitCode.OK and "1 gate(s)" in out and "  smoke:" in out and "refunds" not in out
    args = cli.build_parser().parse_args(["run", "c.yaml", "--tag", "a", "--label", "b"])
    assert args.labels == ["a", "b"]


def test_the_plan_shows_labels_non_blocking_gates_and_each_shards_share() -> None:
    cfg = replace(
        config(replace(spec("a"), labels=("pr",), blocking=False), spec("b"), spec("c")), path="c.yaml"
    )
    text = render_plan(cfg, shards=2)
    assert "labels pr; non-blocking: reported, never fails the step; shard " in text
    shard_lines = [line for line in text.splitlines() if line.startswith("shard ")]
    assert [line.split(":")[0] for line in shard_lines] == ["shard 1/2", "shard 2/2"]
    names = sorted(n.strip() for line in shard_lines for n in line.split(": ", 2)[2].split(","))
    assert names == ["a", "b", "c"]


# --- verdict and reports ------------------------------------------------------------------------------


def test_a_non_blocking_gate_never_decides_the_exit_code() -> None:
    passing, failing, errored = f.passing_gate(), f.failing_gate(), f.errored_gate()
    advisory_fail, advisory_error = replace(failing, blocking=False), replace(errored, blocking=False)
    assert exit_code_for([passing, advisory_fail, advisory_error]) == ExitCode.OK
    assert exit_code_for([passing, advisory_fail, failing]) == ExitCode.REGRESSION
    assert exit_code_for([passing, advisory_fail, errored]) == ExitCode.INCOMPLETE
    # Only advisory gates, and they tested something: the run passes with warnings.
    assert exit_code_for([advisory_fail]) == ExitCode.OK
    # ...but a run that tested nothing at all is incomplete, advisory or not.
    nothing = replace(advisory_error, runs=(), execution=replace(advisory_error.execution, snapshot=None))
    assert exit_code_for([nothing]) == ExitCode.INCOMPLETE
    # Runner errors and signals still decide.
    assert exit_code_for([passing, advisory_fail], runner_errors=["auth"]) == ExitCode.INCOMPLETE
    assert exit_code_for([passing, advisory_fail], interrupted_by="SIGINT") == ExitCode.SIGINT


def test_junit_shows_a_non_blocking_failure_as_a_skip_with_its_original_type() -> None:
    verdict = f.v_non_blocking_failures()
    root = parse(render_junit(verdict))
    assert root.get("failures") == "0" and root.get("errors") == "0"
    skipped = [s for s in root.iter("skipped") if s.get("type") == "regate.non-blocking"]
    assert {s.get("message", "").split(":")[0] for s in skipped} == {
        "non-blocking (ThresholdBreach)",
        "non-blocking (Timeout)",
    }
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["support-agent.blocking"] == "false" and "checkout-agent.blocking" not in props


def test_json_and_markdown_say_which_gates_only_warn() -> None:
    verdict = f.v_non_blocking_failures()
    document = json.loads(render_json(verdict))
    assert [(g["name"], g["blocking"]) for g in document["gates"]] == [
        ("checkout-agent", True),
        ("support-agent", False),
        ("voice-agent", False),
    ]
    assert document["totals"]["gates_warned"] == 2 and document["exit_code"] == 0
    summary = render_markdown(verdict)
    assert "⚠️ failed (non-blocking)" in summary and "⚠️ error (non-blocking)" in summary
    assert "2 non-blocking gate(s) did not pass (support-agent, voice-agent)" in summary
    assert "### Non-blocking gates that did not pass (warnings)" in summary
    assert "### Why it failed" not in summary


def test_merge_keeps_a_gates_blocking_flag(tmp_path: Path) -> None:
    verdict = replace(f.v_non_blocking_failures(), shard="1/1")
    report = tmp_path / "report.json"
    report.write_text(render_json(verdict), encoding="utf-8")
    merged = merge([report])
    assert [g.blocking for g in merged.gates] == [True, False, False]
    assert merged.exit_code == ExitCode.OK


# --- end to end ---------------------------------------------------------------------------------------


def test_the_regression_demo_passes_with_warnings_when_its_gates_do_not_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every gate of the regression demo fails; made non-blocking, the run exits 0 and says why."""
    (tmp_path / "examples").mkdir()
    shutil.copy(REPO / "configs" / "examples" / "support_target.py", tmp_path / "examples")
    text = (REPO / "configs" / "demo-regression.yaml").read_text(encoding="utf-8")
    text = text.replace("  - name: ", "  - blocking: false\n    name: ")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["run", str(tmp_path / "c.yaml"), "--out", str(out)], env={})
    err = capsys.readouterr().err
    assert code == ExitCode.OK
    assert "every selected gate is non-blocking" in err
    assert "(3 non-blocking did not pass)" in err and "FAIL (non-blocking)" in err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "passed" and report["totals"]["gates_warned"] == 3
    assert all(g["status"] == GateStatus.FAILED.value and g["blocking"] is False for g in report["gates"])
    junit = parse((out / "junit.xml").read_text(encoding="utf-8"))
    assert junit.get("failures") == "0" and junit.get("errors") == "0"
