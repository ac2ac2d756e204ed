"""Where reports go: only to the paths the user named, never through a planted link, with a clear error.

- Report file names are fixed (``junit.xml``, ``report.json``, ``summary.md``) or given on the command line;
  no name is ever built from remote data (a hostile scenario or gate name creates no file).
- A report path that is a symbolic link is refused with an error naming it: regate neither writes through it
  (``regate-results/junit.xml -> /etc/...`` leaves the target untouched) nor silently replaces it. Folders on
  the way may be links (``/tmp`` is one on macOS). A link planted between the check and the write is still
  harmless: ``os.replace`` replaces the link itself, never its target.
- A folder that cannot be created or written is named in a one-line error; ``regate run`` then exits 3 where
  the verdict was 0 (a green step without its evidence), and keeps 1 for a regression.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from runner import cli
from runner.model import ExitCode
from runner.reporters import ReportPaths, ReportWriteError, write_atomic, write_reports
from tests.reporters import factories as f

PASSING = """version: 1
simulator: {speed: 600, seed: 3}
providers:
  cekura: {base_url: simulator}
defaults:
  timeout: 60s
  poll: {initial: 50ms, max: 100ms}
gates:
  - {name: smoke, agent: 101, scenarios: [201], thresholds: {success_rate: ">= 0%"}}
"""
LINK_HINT = "remove the link, or choose other report paths with --out, --junit, --json or --markdown"
FOLDER_HINT = "check that the output folder can be created and written, or choose another one with --out"


def all_paths(folder: Path) -> ReportPaths:
    return ReportPaths(
        junit=folder / "junit.xml", json=folder / "report.json", markdown=folder / "summary.md"
    )


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the report folder that a planted link points at."""
    path = tmp_path / "elsewhere" / "precious.txt"
    path.parent.mkdir()
    path.write_text("precious\n", encoding="utf-8")
    return path


# --- links ------------------------------------------------------------------------------------------------


def test_a_report_path_that_is_a_link_is_refused_and_its_target_untouched(
    tmp_path: Path, victim: Path
) -> None:
    out = tmp_path / "regate-results"
    out.mkdir()
    (out / "junit.xml").symlink_to(victim)
    with pytest.raises(ReportWriteError) as caught:
        write_reports(f.v_all_passed(), all_paths(out))
    error = caught.value
    assert (error.message, error.hint, error.internal) == (
        f"could not write 1 report(s): junit ({out / 'junit.xml'}): is a symbolic link: regate does not"
        " write through or replace links",
        LINK_HINT,
        False,
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (out / "junit.xml").is_symlink()  # not replaced either: the user sees what is wrong
    assert (out / "report.json").is_file() and (out / "summary.md").is_file()  # the others are written


def test_a_dangling_link_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    planted = tmp_path / "elsewhere" / "new.json"
    (out / "report.json").symlink_to(planted)
    with pytest.raises(OSError, match="is a symbolic link"):
        write_atomic(out / "report.json", "{}")
    assert not planted.exists() and not planted.parent.exists()
    assert [p.name for p in out.iterdir()] == ["report.json"]  # no temp file left behind


def test_os_replace_replaces_a_link_itself_never_its_target(tmp_path: Path, victim: Path) -> None:
    """The property that makes the check-then-write race harmless, pinned on this platform."""
    link = tmp_path / "link"
    link.symlink_to(victim)
    tmp = tmp_path / "tmp"
    tmp.write_text("new", encoding="utf-8")
    os.replace(tmp, link)
    assert not link.is_symlink() and link.read_text(encoding="utf-8") == "new"
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_a_link_planted_after_the_check_is_replaced_not_followed(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "junit.xml"
    real_mkstemp = tempfile.mkstemp

    def plant_then_mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        target.symlink_to(victim)  # the attacker wins the race: the link appears after the check
        return real_mkstemp(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", plant_then_mkstemp)
    write_atomic(target, "<report/>")
    assert not target.is_symlink() and target.read_text(encoding="utf-8") == "<report/>"
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_a_report_folder_that_is_a_link_is_followed(tmp_path: Path) -> None:
    """The user chose the folder (``/tmp`` itself is a link on macOS): it is written through."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "results").symlink_to(real, target_is_directory=True)
    written = write_reports(f.v_all_passed(), all_paths(tmp_path / "results"))
    assert len(written) == 3
    assert sorted(p.name for p in real.iterdir()) == ["junit.xml", "report.json", "summary.md"]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda p: p.mkdir(), "is a folder, not a file", id="folder"),
        pytest.param(os.mkfifo, "is not a regular file (a device, socket or pipe)", id="fifo"),
    ],
)
def test_a_report_path_that_is_not_a_regular_file_is_refused_without_opening_it(
    tmp_path: Path, make: object, reason: str
) -> None:
    """A FIFO is never opened (opening it would block the run until a reader appeared)."""
    path = tmp_path / "junit.xml"
    make(path)  # type: ignore[operator]
    with pytest.raises(ReportWriteError) as caught:
        write_reports(f.v_all_passed(), ReportPaths(junit=path))
    assert caught.value.message == f"could not write 1 report(s): junit ({path}): {reason}"


# --- folders that cannot be written ----------------------------------------------------------------------


@pytest.mark.parametrize("below", ["sub", ""], ids=["folder-below-a-file", "folder-is-a-file"])
def test_a_folder_blocked_by_a_file_is_one_error_naming_both(tmp_path: Path, below: str) -> None:
    """This fails for root too (unlike a permission), and says which path is in the way."""
    blocker = tmp_path / "some_file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / below if below else blocker
    with pytest.raises(ReportWriteError) as caught:
        write_reports(f.v_all_passed(), all_paths(out))
    assert (caught.value.message, caught.value.hint) == (
        f"could not write 3 report(s): junit, json, markdown: cannot create the folder {out}:"
        f" {blocker} is a file, not a folder",
        FOLDER_HINT,
    )


def test_a_folder_without_write_permission_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ReportWriteError) as caught:
        write_reports(f.v_all_passed(), all_paths(tmp_path))
    assert caught.value.message == (
        f"could not write 3 report(s): junit, json, markdown: cannot write in the folder {tmp_path}:"
        " permission denied"
    )
    assert not caught.value.internal


# --- names ------------------------------------------------------------------------------------------------


def test_no_file_name_comes_from_remote_data(tmp_path: Path) -> None:
    """A verdict full of hostile names (``../``, workflow commands, control characters) writes exactly the
    requested files and nothing else anywhere under the folder's parent."""
    out = tmp_path / "a" / "out"
    written = write_reports(f.v_hostile(), all_paths(out))
    assert written == [out / "junit.xml", out / "report.json", out / "summary.md"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "a",
        "a/out",
        "a/out/junit.xml",
        "a/out/report.json",
        "a/out/summary.md",
    ]


def test_the_report_writer_knows_only_fixed_names() -> None:
    """The CLI's defaults; every other path is the user's (--junit, --json, --markdown)."""
    args = cli.build_parser().parse_args(["run", "c.yaml", "--out", "o"])
    from runner.cli_common import report_paths

    paths = report_paths(args, {})
    assert (paths.junit, paths.json, paths.markdown) == (
        Path("o/junit.xml"),
        Path("o/report.json"),
        Path("o/summary.md"),
    )


# --- through the CLI --------------------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str) -> int:
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(PASSING, encoding="utf-8")
    return cli.main(["run", str(cfg), *args], env={})


def test_an_unwritable_folder_turns_a_pass_into_exit_3_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "some_file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "sub"
    assert run_cli(tmp_path, "--out", str(out)) == ExitCode.INCOMPLETE
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("regate: error:")]
    assert errors == [
        f"regate: error: could not write 3 report(s): junit, json, markdown: cannot create the folder {out}:"
        f" {blocker} is a file, not a folder"
    ]
    assert f"regate: hint: {FOLDER_HINT}" in err
    assert err[-1].startswith("regate: PASSED (exit 0)") and err[-1].endswith("reports: none written")


def test_a_planted_link_turns_a_pass_into_exit_3_and_its_target_is_untouched(
    tmp_path: Path, victim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "regate-results"
    out.mkdir()
    (out / "junit.xml").symlink_to(victim)
    assert run_cli(tmp_path, "--out", str(out)) == ExitCode.INCOMPLETE
    err = capsys.readouterr().err
    assert (
        f"regate: error: could not write 1 report(s): junit ({out / 'junit.xml'}): is a symbolic link" in err
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (out / "report.json").is_file()


def test_a_write_failure_does_not_hide_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 wins: the regression is the verdict; the missing report is reported beside it."""
    cfg = tmp_path / "regate.yaml"
    regressed = PASSING.replace("agent: 101, scenarios: [201]", "agent: 102, scenarios: [205, 206, 207]")
    cfg.write_text(regressed.replace(">= 0%", ">= 100%"), encoding="utf-8")
    blocker = tmp_path / "some_file"
    blocker.write_text("x", encoding="utf-8")
    code = cli.main(["run", str(cfg), "--out", str(blocker / "sub"), "--quiet"], env={})
    assert code == ExitCode.REGRESSION
    assert "cannot create the folder" in capsys.readouterr().err
