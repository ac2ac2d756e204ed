"""GitHub Actions output: appending to the step summary, and annotation lines.

Annotations (``::error title=...::message``) follow the runner's escaping rules: in the message ``%``, CR and
LF are percent-encoded; in property values ``:`` and ``,`` are too. Remote text is cleaned first, so an
annotation is always exactly one log line and cannot smuggle in a second workflow command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from runner.textclean import clean_text

__all__ = ["annotation", "append_step_summary", "escape_data", "escape_property"]

Level = Literal["error", "warning", "notice"]
_TITLE_LIMIT = 200
_MESSAGE_LIMIT = 4000  # GitHub shows at most a few KiB of an annotation; keep logs readable


def append_step_summary(path: Path, markdown: str) -> None:
    """Append ``markdown`` to the step summary file (never overwrite: other steps and tools write there too).

    A blank line separates it from what is already in the file so that a table cannot run into it.
    """
    path = Path(path)
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    # "a" mode: O_APPEND, so concurrent appenders do not overwrite each other; newline="" keeps our LFs.
    with path.open("a", encoding="utf-8", newline="") as handle:
        if handle.tell() > 0:
            text = "\n" + text
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def escape_data(value: str) -> str:
    """Escape an annotation message (the part after ``::``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape an annotation property value (``title=...``, ``file=...``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _bounded(value: str, limit: int) -> str:
    text = clean_text(value).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def annotation(
    level: Level,
    message: str,
    *,
    title: str | None = None,
    file: str | None = None,
    line: int | None = None,
) -> str:
    """One workflow-command line, e.g. ``::error title=gate checkout::success_rate 85% < 90%``.

    ``message`` and ``title`` may be remote text: they are cleaned, bounded and escaped here.
    """
    properties = []
    if title:
        properties.append(f"title={escape_property(_bounded(title, _TITLE_LIMIT))}")
    if file:
        properties.append(f"file={escape_property(clean_text(file))}")
    if line is not None:
        properties.append(f"line={int(line)}")
    head = f"::{level}" + (" " + ",".join(properties) if properties else "")
    return f"{head}::{escape_data(_bounded(message, _MESSAGE_LIMIT))}"
