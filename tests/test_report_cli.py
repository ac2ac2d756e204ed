"""``regate report --history REPORT.json... --html OUT.html``: exit 0 and the page's path, or exit 2 with one
line naming the file and what is wrong (never a traceback); the page is written atomically, never through a
link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import cli
from runner.model import ExitCode

from .reporters.trend_factories import nightly_verdicts, report_text

REPO = Path(__file__).resolve().parents[1]


def _write_nightly(folder: Path) -> list[str]:
    paths = []
    for i, (started_at, verdict) in enumerate(nightly_verdicts()):
        path = folder / f"night-{i}" / "report.json"
        path.parent.mkdir(parents=True)
        path.write_text(report_text(verdict, started_at), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_writes_the_page_and_prints_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site" / "trend.html"
    history = _write_nightly(tmp_path)
    assert cli.main(["report", "--history", *reversed(history), "--html", str(out)], env={}) == ExitCode.OK
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert capsys.readouterr().err == f"regate: trend of 5 report(s) written to {out}\n"
    assert not [p for p in out.parent.iterdir() if p.name != "trend.html"]  # no temp file left behind


def test_a_report_given_twice_is_read_once_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _write_nightly(tmp_path)
    out = tmp_path / "trend.html"
    assert cli.main(["report", "--history", *history, history[0], "--html", str(out)], env={}) == 0
    assert f"regate: note: {history[0]} is given twice: read once\n" in capsys.readouterr().err


def _bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    document = json.loads(report_text(nightly_verdicts()[0][1], "2026-11-20T02:00:00Z"))
    if kind == "not-json":
        path.write_text("<html>oops</html>", encoding="utf-8")
    elif kind == "shard":
        path.write_text(json.dumps({**document, "shard": "2/3"}), encoding="utf-8")
    elif kind == "schema":
        path.write_text(json.dumps({**document, "schema_version": 7}), encoding="utf-8")
    elif kind == "missing-field":
        del document["gates"][0]["checks"][0]["expression"]
        path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "error", "hint"),
    [
        pytest.param("not-json", "{path}: not JSON (line 1, column 1", "report.json files", id="not-json"),
        pytest.param("shard", "{path}: the report of shard 2/3", "regate merge", id="shard"),
        pytest.param("schema", "{path}: schema_version 7 is not supported", "regate version", id="schema"),
        pytest.param(
            "missing-field",
            "{path}: gates[0].checks[0]: missing field 'expression'",
            "report.json",
            id="field",
        ),
        pytest.param("absent", "cannot read {path}: no such file or directory", None, id="absent"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, error: str, hint: str | None
) -> None:
    good = _write_nightly(tmp_path)[0]
    bad = _bad(tmp_path, kind)
    out = tmp_path / "trend.html"
    assert cli.main(["report", "--history", good, str(bad), "--html", str(out)], env={}) == ExitCode.USAGE
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("regate: error: " + error.format(path=bad)), lines
    assert all(line.startswith(("regate: error: ", "regate: hint: ")) for line in lines)
    if hint:
        assert hint in lines[1]
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["report", "--html", "x.html"], id="no-history"),
        pytest.param(["report", "--history", "r.json"], id="no-html"),
        pytest.param(["report", "--history", "--html", "x.html"], id="empty-history"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv, env={}) == ExitCode.USAGE
    assert "regate: hint:" in capsys.readouterr().err


def test_the_page_is_never_written_through_a_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = tmp_path / "trend.html"
    link.symlink_to(victim)
    history = _write_nightly(tmp_path)
    assert cli.main(["report", "--history", *history, "--html", str(link)], env={}) == ExitCode.USAGE
    assert "is a symbolic link" in capsys.readouterr().err
    assert victim.read_text(encoding="utf-8") == "keep me" and link.is_symlink()


def test_reports_of_real_demo_runs(tmp_path: Path) -> None:
    """The demo and its regression, run for real on the embedded simulator, then charted."""
    for name in ("demo", "demo-regression"):
        config = str(REPO / "configs" / f"{name}.yaml")
        cli.main(["run", config, "--out", str(tmp_path / name), "--quiet"], env={})
    reports = [str(tmp_path / name / "report.json") for name in ("demo", "demo-regression")]
    out = tmp_path / "trend.html"
    assert cli.main(["report", "--history", *reports, "--html", str(out)], env={}) == ExitCode.OK
    html = out.read_text(encoding="utf-8")
    assert html.count('<svg class="chart"') == 2 * (3 + 5 + 4)  # per config: smoke, refunds, faq
    assert "metric.Latency.p50" in html and "evaluation.Helpfulness.mean" in html
