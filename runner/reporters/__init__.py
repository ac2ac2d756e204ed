"""Reports: pure renderers (JUnit XML, JSON, Markdown) and the one place that writes them.

All reports are rendered from the same ``Verdict`` as the exit code, so they cannot disagree.
``write_reports`` writes each requested report atomically (a temp file in the same directory, fsync,
``os.replace``): a reader — or a CI upload step after a SIGKILL — sees the old file or the new one, never half
a file. One failing report does not stop the others; the failures are raised together at the end.

Paths are the user's (``--out``, ``--junit``, ...; report file names are fixed, never built from remote
data). A report path that is a symbolic link is refused, not followed and not replaced: a link planted in the
output folder (``regate-results/junit.xml -> /etc/passwd``) must not make regate write elsewhere, and
silently replacing the link would hide a problem. Folders on the way may be links (``/tmp`` is one on macOS).
A folder that cannot be created or written is named in a one-line error.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RegateError
from runner.model import Verdict
from runner.reporters.github import append_step_summary
from runner.reporters.json_report import iter_json, render_json
from runner.reporters.junit import JUnitInvariantError, iter_junit, render_junit
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
        # Reports that failed for the same reason share one clause; a folder's problem names the folder.
        groups: dict[str, list[str]] = {}
        for report, path, exc in failures:
            folder_level = isinstance(exc, OSError) and exc.filename == str(path.parent)
            groups.setdefault(_describe(exc), []).append(report if folder_level else f"{report} ({path})")
        parts = [f"{', '.join(reports)}: {reason}" for reason, reports in groups.items()]
        super().__init__(
            f"could not write {len(failures)} report(s): " + "; ".join(parts),
            hint=None if self.internal else _hint([exc for _, _, exc in failures]),
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _hint(errors: list[BaseException]) -> str:
    if any(isinstance(exc, OSError) and exc.errno == errno.ELOOP for exc in errors):
        return "remove the link, or choose other report paths with --out, --junit, --json or --markdown"
    return "check that the output folder can be created and written, or choose another one with --out"


def _make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents; an error names the folder (and a file in the way, if any)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in reversed((folder, *folder.parents)) if p.exists() and not p.is_dir()), folder
        )
        reason = f"cannot create the folder {folder}: {blocker} is a file, not a folder"
        raise NotADirectoryError(errno.ENOTDIR, reason, str(folder)) from None
    except OSError as exc:
        reason = f"cannot create the folder {folder}: {_reason(exc)}"
        raise OSError(exc.errno, reason, str(folder)) from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _existing_mode(path: Path) -> int:
    """The permission bits to keep when replacing ``path``; refuses a link or anything but a regular file."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return _DEFAULT_MODE
    if stat.S_ISLNK(info.st_mode):
        reason = "is a symbolic link: regate does not write through or replace links"
        raise OSError(errno.ELOOP, reason, str(path))
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "is not a regular file (a device, socket or pipe)", str(path))
    return info.st_mode & 0o777


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically, creating parent folders.

    ``text`` may come in pieces (a report of 100,000 runs is never whole in memory); they are encoded and
    written one by one. An existing ``path`` must be a regular file (a symbolic link is refused, see the
    module docstring). On any error, also one raised while the pieces are made, the previous content of
    ``path`` (if any) is untouched and no temp file is left behind.
    """
    path = Path(path)
    # A whole text is encoded before touching the disk: an encoding error must not even create a folder.
    pieces: Iterable[bytes] = (
        (text.encode("utf-8"),) if isinstance(text, str) else (piece.encode("utf-8") for piece in text)
    )
    _make_folder(path.parent)
    mode = _existing_mode(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        reason = f"cannot write in the folder {path.parent}: {_reason(exc)}"
        raise OSError(exc.errno, reason, str(path.parent)) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        # Replaces the directory entry itself: a link planted after the check above is replaced, its
        # target never written.
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
        ("junit", paths.junit, lambda p: write_atomic(p, iter_junit(verdict))),
        ("json", paths.json, lambda p: write_atomic(p, iter_json(verdict))),
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
