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
from runner.textclean import clean_text, escape_data

__all__ = [
    "MAX_JOB_ANNOTATIONS",
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
MAX_JOB_ANNOTATIONS = 50  # ... and at most 50 per job, all steps together


def gate_annotations(verdict: Verdict, *, budget: int = MAX_JOB_ANNOTATIONS) -> list[str]:
    """One ``::error`` per failed gate and one ``::warning`` per gate without a verdict or non-blocking gate
    that did not pass: at most ``MAX_ANNOTATIONS`` of each level and ``budget`` lines in all (what is left
    of the job's 50), the rest summarised in one more line that points to the step summary."""
    errors: list[str] = []
    warnings: list[str] = []
    for gate in verdict.gates:
        if gate.status is GateStatus.PASSED:
            continue
        why = "; ".join(gate.reasons[:3]) or gate.status.value
        if not gate.blocking:
            title = f"regate: non-blocking gate {gate.name} {gate.status.value} (does not fail the step)"
            warnings.append(annotation("warning", why, title=title))
        elif gate.status is GateStatus.FAILED:
            errors.append(annotation("error", why, title=f"regate: gate {gate.name} failed"))
        else:
            warnings.append(annotation("warning", why, title=f"regate: gate {gate.name} has no verdict"))
    shown = errors[:MAX_ANNOTATIONS] + warnings[:MAX_ANNOTATIONS]
    total = len(errors) + len(warnings)
    if len(shown) == total and total <= budget:
        return shown
    keep = max(min(len(shown), budget - 1), 0)
    lines = shown[:keep]
    if budget > 0:
        level: Level = (
            "error" if len(errors) > sum(1 for line in lines if line.startswith("::error")) else "warning"
        )
        lines.append(annotation(level, f"{total - keep} more gates did not pass: see the step summary"))
    return lines


def step_outputs(verdict: Verdict, *, junit: Path | None, report_json: Path | None) -> dict[str, str]:
    """The values a workflow reads after the step (``steps.<id>.outputs.<name>``)."""
    runs = [run for gate in verdict.gates for run in gate.runs]
    passed = sum(1 for run in runs if run.outcome is RunOutcome.PASSED)
    return {
        "verdict": verdict.status.value,
        "exit-code": str(int(verdict.exit_code)),
        "passed-gates": ",".join(g.name for g in verdict.gates if g.status is GateStatus.PASSED),
        "failed-gates": ",".join(
            g.name for g in verdict.gates if g.status is not GateStatus.PASSED and g.blocking
        ),
        "warned-gates": ",".join(g.name for g in verdict.gates if g.advisory_failure),
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
