"""Reports: pure renderers (JUnit XML, JSON, Markdown) and the one place that writes them.

All reports are rendered from the same ``Verdict`` as the exit code, so they cannot disagree.
``write_reports`` writes each requested report atomically (a temp file in the same directory, fsync,
``os.replace``): a reader — or a CI upload step after a SIGKILL — sees the old file or the new one, never half
a file. One failing report does not stop the others; the failures are raised together at the end.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RegateError
from runner.model import Verdict
from runner.reporters.github import append_step_summary
from runner.reporters.json_report import render_json
from runner.reporters.junit import JUnitInvariantError, render_junit
from runner.reporters.markdown import render_markdown

__all__ = [
    "JUnitInvariantError",
    "ReportPaths",
    "ReportWriteError",
    "render_json",
    "render_junit",
    "render_markdown",
    "write_atomic",
    "write_reports",
]

_DEFAULT_MODE = 0o644  # mkstemp creates 0600; reports are meant to be read by upload steps and humans


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where to write each report; None = do not write it. ``step_summary`` is appended to, never replaced."""

    junit: Path | None = None
    json: Path | None = None
    markdown: Path | None = None
    step_summary: Path | None = None


class ReportWriteError(RegateError):
    """One or more reports could not be rendered or written.

    ``failures`` lists ``(report, path, exception)``. ``internal`` is True when one of them is not an I/O
    problem (e.g. ``JUnitInvariantError``): that is a bug in regate and should exit 4, not 3.
    """

    def __init__(self, failures: list[tuple[str, Path, BaseException]]) -> None:
        self.failures = tuple(failures)
        self.internal = any(not isinstance(exc, OSError) for _, _, exc in failures)
        parts = [f"{report} ({path}): {_describe(exc)}" for report, path, exc in failures]
        super().__init__(
            f"could not write {len(failures)} report(s): " + "; ".join(parts),
            hint=None if self.internal else "check that the output directory exists and is writable",
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically, creating parent directories.

    On any error the previous content of ``path`` (if any) is untouched and no temp file is left behind.
    """
    path = Path(path)
    data = text.encode("utf-8")  # before touching the disk: an encoding error must not leave a temp file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = _DEFAULT_MODE
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable. Best effort: not every platform/filesystem can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_reports(verdict: Verdict, paths: ReportPaths) -> list[Path]:
    """Render and write every report named in ``paths``; return the paths written, in a fixed order.

    Raises ``ReportWriteError`` after trying all of them if any failed (chained to the first failure).
    """
    markdown = functools.cache(lambda: render_markdown(verdict))  # rendered once for both uses
    jobs: list[tuple[str, Path | None, Callable[[Path], None]]] = [
        ("junit", paths.junit, lambda p: write_atomic(p, render_junit(verdict))),
        ("json", paths.json, lambda p: write_atomic(p, render_json(verdict))),
        ("markdown", paths.markdown, lambda p: write_atomic(p, markdown())),
        ("step summary", paths.step_summary, lambda p: append_step_summary(p, markdown())),
    ]
    written: list[Path] = []
    failures: list[tuple[str, Path, BaseException]] = []
    for report, path, write in jobs:
        if path is None:
            continue
        try:
            write(Path(path))
        except Exception as exc:  # every failure is collected and raised together below
            failures.append((report, Path(path), exc))
        else:
            written.append(Path(path))
    if failures:
        raise ReportWriteError(failures) from failures[0][2]
    return written
