"""Specification of the GitHub Actions helpers: the step summary is appended to, annotations are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.reporters.github import (
    annotation,
    append_outputs,
    append_step_summary,
    escape_data,
    escape_property,
    gate_annotations,
    step_outputs,
)


def test_step_summary_is_appended_never_overwritten(tmp_path: Path) -> None:
    """Two appends keep what another step wrote plus both summaries, separated by blank lines."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("# from an earlier step\n", encoding="utf-8")
    append_step_summary(summary, "## first 🎉\n| a |")
    append_step_summary(summary, "## second\n")
    assert (
        summary.read_text(encoding="utf-8") == "# from an earlier step\n\n## first 🎉\n| a |\n\n## second\n"
    )


def test_step_summary_file_is_created_if_missing(tmp_path: Path) -> None:
    summary = tmp_path / "new.md"
    append_step_summary(summary, "## only")
    assert summary.read_text(encoding="utf-8") == "## only\n"


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        pytest.param("50%", "50%25", "50%25", id="percent"),
        pytest.param("a\r\nb", "a%0D%0Ab", "a%0D%0Ab", id="cr-lf"),
        pytest.param("k: v, w", "k: v, w", "k%3A v%2C w", id="colon-comma-only-in-properties"),
        pytest.param("%0A", "%250A", "%250A", id="already-encoded-looking"),
    ],
)
def test_escaping_follows_githubs_rules(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


def test_annotation_is_one_safe_line() -> None:
    """Remote title and message cannot break out of the annotation or inject a second command."""
    line = annotation(
        "error",
        "breach\n::set-output name=x::y\x1b[31m",
        title="gate: support, agent 12",
        file="configs/demo.yaml",
        line=12,
    )
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line == (
        "::error title=gate%3A support%2C agent 12,file=configs/demo.yaml,line=12"
        "::breach%0A::set-output name=x::y"
    )


def test_annotation_without_properties() -> None:
    assert annotation("notice", "all green ✅") == "::notice::all green ✅"


def test_one_annotation_per_gate_that_did_not_pass_errors_for_failures_warnings_otherwise() -> None:
    """A regression is an ::error titled with the gate, an errored gate a ::warning; passing gates none."""
    from tests.reporters import factories as f

    lines = gate_annotations(f.v_regression())
    assert lines and all(line.startswith(("::error title=regate%3A gate ", "::warning")) for line in lines)
    assert all("\n" not in line for line in lines)
    assert gate_annotations(f.v_all_passed()) == []
    assert all(line.startswith("::warning") for line in gate_annotations(f.v_errored()))


def test_annotations_are_capped_at_ten_of_each_level_with_a_summary_line() -> None:
    from dataclasses import replace

    from tests.reporters import factories as f

    verdict = f.v_regression()
    failed = next(g for g in verdict.gates if g.status.value == "failed")
    many = replace(verdict, gates=tuple(replace(failed, name=f"g{i}") for i in range(13)))
    lines = gate_annotations(many)
    assert len(lines) == 11 and lines[-1] == "::error::3 more gates did not pass: see the step summary"
    assert [line.split("::")[1] for line in lines[:10]] == [
        f"error title=regate%3A gate g{i} failed" for i in range(10)
    ]


def test_the_job_wide_budget_cuts_annotations_and_keeps_one_line_for_the_rest() -> None:
    """GitHub keeps 50 annotations per job: what earlier steps used is subtracted, the last line says
    how many gates are not shown, and an exhausted budget writes nothing at all."""
    from dataclasses import replace

    from tests.reporters import factories as f

    verdict = f.v_regression()
    failed = next(g for g in verdict.gates if g.status.value == "failed")
    many = replace(verdict, gates=tuple(replace(failed, name=f"g{i}") for i in range(13)))
    lines = gate_annotations(many, budget=4)
    assert len(lines) == 4
    assert lines[-1] == "::error::10 more gates did not pass: see the step summary"
    assert gate_annotations(many, budget=1) == ["::error::13 more gates did not pass: see the step summary"]
    assert gate_annotations(many, budget=0) == []
    assert gate_annotations(many, budget=-3) == []
    assert len(gate_annotations(many, budget=50)) == 11


def test_a_non_blocking_gate_that_did_not_pass_is_a_warning_saying_it_does_not_fail_the_step() -> None:
    from dataclasses import replace

    from tests.reporters import factories as f

    verdict = f.v_regression()
    advisory = replace(verdict, gates=tuple(replace(g, blocking=False) for g in verdict.gates))
    lines = gate_annotations(advisory)
    assert lines and all(line.startswith("::warning title=regate%3A non-blocking gate ") for line in lines)
    assert all("(does not fail the step)" in line for line in lines)
    outputs = step_outputs(advisory, junit=None, report_json=None)
    assert outputs["failed-gates"] == ""
    assert outputs["warned-gates"] == ",".join(g.name for g in verdict.gates if g.status.value != "passed")


def test_step_outputs_use_the_multiline_safe_syntax(tmp_path: Path) -> None:
    """`name<<DELIMITER` blocks whose delimiter never occurs in the value, appended to $GITHUB_OUTPUT."""
    from tests.reporters import factories as f

    output = tmp_path / "github_output"
    output.write_text("earlier=1\n", encoding="utf-8")
    values = step_outputs(f.v_regression(), junit=Path("out/junit.xml"), report_json=Path("out/report.json"))
    append_outputs(output, {**values, "tricky": "line one\nregate_x\nline three"})
    text = output.read_text(encoding="utf-8")
    assert text.startswith("earlier=1\n")
    parsed: dict[str, str] = {}
    lines = text.splitlines()[1:]
    while lines:
        name, delimiter = lines.pop(0).split("<<")
        end = lines.index(delimiter)
        parsed[name] = "\n".join(lines[:end])
        lines = lines[end + 1 :]
    assert parsed["verdict"] == "failed" and parsed["exit-code"] == "1"
    assert parsed["junit"] == "out/junit.xml" and parsed["tricky"] == "line one\nregate_x\nline three"
    assert set(values) == {"verdict", "exit-code", "passed-gates", "failed-gates", "warned-gates",
                           "success-rate", "report-json", "junit"}  # fmt: skip
