"""The process exit codes, apart from the data model: the CLI needs them before it knows the command, and
``regate --help`` should not pay for building the model's dataclasses (a fifth of its start on a slow
machine)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (design.md §2). 1 wins over 3; an empty selection is 3, never 0."""

    OK = 0
    REGRESSION = 1
    USAGE = 2
    INCOMPLETE = 3
    INTERNAL = 4
    SIGINT = 130
    SIGTERM = 143
