"""Specification of the GitHub Actions helpers: the step summary is appended to, annotations are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.reporters.github import annotation, append_step_summary, escape_data, escape_property


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
