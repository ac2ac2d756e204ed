"""GitHub Actions output: the step summary, annotation lines, and step outputs (``$GITHUB_OUTPUT``).

Annotations (``::error title=...::message``) follow the runner's escaping rules: in the message ``%``, CR and
LF are percent-encoded; in property values ``:`` and ``,`` are too. Remote text is cleaned first, so an
annotation is always exactly one log line and cannot smuggle in a second workflow command.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from runner.model import GateStatus, RunOutcome, Verdict
from runner.textclean import clean_text

__all__ = [
    "annotation",
    "append_outputs",
    "append_step_summary",
    "escape_data",
    "escape_property",
    "gate_annotations",
    "step_outputs",
]

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


MAX_ANNOTATIONS = 10  # GitHub shows at most 10 errors and 10 warnings per step


def gate_annotations(verdict: Verdict) -> list[str]:
    """One ``::error`` per failed gate and one ``::warning`` per gate without a verdict, at most
    ``MAX_ANNOTATIONS`` of each; the rest are summarised in one more line of that level."""
    errors: list[str] = []
    warnings: list[str] = []
    for gate in verdict.gates:
        if gate.status is GateStatus.PASSED:
            continue
        why = "; ".join(gate.reasons[:3]) or gate.status.value
        if gate.status is GateStatus.FAILED:
            errors.append(annotation("error", why, title=f"regate: gate {gate.name} failed"))
        else:
            warnings.append(annotation("warning", why, title=f"regate: gate {gate.name} has no verdict"))
    lines = errors[:MAX_ANNOTATIONS] + warnings[:MAX_ANNOTATIONS]
    if len(errors) > MAX_ANNOTATIONS:
        lines.append(
            annotation("error", f"{len(errors) - MAX_ANNOTATIONS} more failed gates: see the summary")
        )
    if len(warnings) > MAX_ANNOTATIONS:
        more = len(warnings) - MAX_ANNOTATIONS
        lines.append(annotation("warning", f"{more} more gates without a verdict: see the summary"))
    return lines


def step_outputs(verdict: Verdict, *, junit: Path | None, report_json: Path | None) -> dict[str, str]:
    """The values a workflow reads after the step (``steps.<id>.outputs.<name>``)."""
    runs = [run for gate in verdict.gates for run in gate.runs]
    passed = sum(1 for run in runs if run.outcome is RunOutcome.PASSED)
    return {
        "verdict": verdict.status.value,
        "exit-code": str(int(verdict.exit_code)),
        "passed-gates": ",".join(g.name for g in verdict.gates if g.status is GateStatus.PASSED),
        "failed-gates": ",".join(g.name for g in verdict.gates if g.status is not GateStatus.PASSED),
        "success-rate": f"{passed / len(runs):.4f}" if runs else "",
        "report-json": str(report_json) if report_json is not None else "",
        "junit": str(junit) if junit is not None else "",
    }


def append_outputs(path: Path, outputs: dict[str, str]) -> None:
    """Append to ``$GITHUB_OUTPUT`` with the multiline-safe ``name<<DELIMITER`` syntax, a delimiter that
    cannot occur in the value (gate names come from the config, but stay safe whatever they hold)."""
    with Path(path).open("a", encoding="utf-8", newline="") as handle:
        for name, value in outputs.items():
            delimiter = f"regate_{secrets.token_hex(8)}"
            while delimiter in value:
                delimiter = f"regate_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{clean_text(value)}\n{delimiter}\n")
