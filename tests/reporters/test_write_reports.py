"""Specification of writing reports: atomic, complete, and one failure does not cost the other reports."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import runner.reporters as reporters
from runner.errors import RegateError
from runner.model import ExitCode
from runner.reporters import JUnitInvariantError, ReportPaths, ReportWriteError, write_atomic, write_reports

from . import factories as f


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_creates_parents_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.xml"
    write_atomic(target, "<x>🎉</x>\n")
    assert target.read_bytes() == "<x>🎉</x>\n".encode()
    assert _leftovers(target.parent) == []
    assert target.stat().st_mode & 0o777 == 0o644


def test_write_atomic_replaces_and_keeps_the_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640


def test_write_atomic_does_not_clobber_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final rename fails, the old report is intact and the temp file is gone."""
    target = tmp_path / "report.xml"
    target.write_text("previous report", encoding="utf-8")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new report")
    assert target.read_text(encoding="utf-8") == "previous report"
    assert _leftovers(tmp_path) == []


def test_write_atomic_rejects_unencodable_text_before_touching_disk(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "lone \ud800")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_writes_pieces_and_keeps_the_old_file_if_making_them_fails(tmp_path: Path) -> None:
    """A report written in pieces (never whole in memory) is just as atomic: a piece that cannot be made
    or encoded leaves the previous report and no temp file."""
    target = tmp_path / "report.json"
    write_atomic(target, iter(["{", '"a": 1', "}\n"]))
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'

    def broken() -> Iterator[str]:
        yield '{"half": '
        raise RuntimeError("a bug while rendering")

    with pytest.raises(RuntimeError, match="a bug while rendering"):
        write_atomic(target, broken())
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, iter(["ok", "lone \ud800"]))
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'
    assert _leftovers(tmp_path) == []


def test_write_reports_writes_every_requested_report(tmp_path: Path) -> None:
    """All four outputs from one verdict; the paths come back in a fixed order; None means skip."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n", encoding="utf-8")
    paths = ReportPaths(
        junit=tmp_path / "out" / "junit.xml",
        json=tmp_path / "out" / "report.json",
        markdown=tmp_path / "out" / "summary.md",
        step_summary=summary,
    )
    written = write_reports(f.v_regression(), paths)
    assert written == [paths.junit, paths.json, paths.markdown, summary]
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["exit_code"] == 1
    markdown = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8") == "earlier\n\n" + markdown
    assert _leftovers(tmp_path / "out") == []
    assert write_reports(f.v_regression(), ReportPaths(json=tmp_path / "only.json")) == [
        tmp_path / "only.json"
    ]


def test_one_failing_writer_does_not_stop_the_others(tmp_path: Path) -> None:
    """A JUnit path that is a directory fails; JSON and Markdown are still written; one error lists it."""
    blocked = tmp_path / "junit.xml"
    blocked.mkdir()
    paths = ReportPaths(junit=blocked, json=tmp_path / "report.json", markdown=tmp_path / "summary.md")
    with pytest.raises(ReportWriteError) as caught:
        write_reports(f.v_regression(), paths)
    error = caught.value
    assert isinstance(error, RegateError)
    assert [(report, path) for report, path, _ in error.failures] == [("junit", blocked)]
    assert not error.internal
    assert error.message.startswith(f"could not write 1 report(s): junit ({blocked}): ")
    assert isinstance(error.__cause__, OSError)
    assert (tmp_path / "report.json").is_file() and (tmp_path / "summary.md").is_file()


def test_a_rendering_bug_is_collected_and_marked_internal(tmp_path: Path) -> None:
    """A contradictory verdict cannot produce a JUnit file, but the JSON is still written for debugging."""
    import dataclasses

    lying = dataclasses.replace(f.v_regression(), exit_code=ExitCode.OK)
    paths = ReportPaths(junit=tmp_path / "junit.xml", json=tmp_path / "report.json")
    with pytest.raises(ReportWriteError) as caught:
        write_reports(lying, paths)
    assert caught.value.internal
    assert isinstance(caught.value.__cause__, JUnitInvariantError)
    assert not (tmp_path / "junit.xml").exists()
    assert (tmp_path / "report.json").is_file()


def test_public_api() -> None:
    assert {
        "ReportPaths",
        "write_reports",
        "write_atomic",
        "render_junit",
        "render_json",
        "render_markdown",
    } <= set(reporters.__all__)
