"""The console side every command shares: where messages go, and how an error is printed (one line each,
escaped so that no message can become a GitHub workflow command). Kept tiny: ``runner.cli`` imports it at
start-up."""

from __future__ import annotations

from typing import NamedTuple, TextIO

from runner.errors import RegateError
from runner.textclean import escape_workflow_command, one_line

__all__ = ["Output", "print_error"]


class Output(NamedTuple):  # immutable like a frozen dataclass, without importing dataclasses at start-up
    stderr: TextIO
    debug: bool


def print_error(out: Output, exc: RegateError) -> None:
    out.stderr.write(escape_workflow_command(f"regate: error: {one_line(exc.message, 2000)}") + "\n")
    if exc.hint:
        out.stderr.write(escape_workflow_command(f"regate: hint: {one_line(exc.hint, 1000)}") + "\n")
    out.stderr.flush()
