"""``::add-mask::`` lines for the secrets a config holds, so GitHub hides them in every later log line.

regate never prints a secret itself; masking is the second line of defence, for what other steps, a target
command or a debug trace might echo. The values masked: the API keys of the configured platforms, and every
environment value the config read into a secret place (an ``api_key``, a header, a target's ``env``) or
from a variable named like a secret (``*TOKEN*``, ``*_KEY``...; ``runner.config.secret_values``). Values
written literally in the config are in the repository anyway; masking them would hide nothing, and GitHub
replaces *every* occurrence of a masked value, so masking ``regressed`` would garble unrelated log lines.
Values shorter than ``MIN_MASKED`` characters are skipped for the same reason.
"""

from __future__ import annotations

from runner.settings import Config
from runner.textclean import escape_data

__all__ = ["MIN_MASKED", "mask_commands", "secret_values"]

MIN_MASKED = 4


def secret_values(config: Config) -> tuple[str, ...]:
    """Every secret value of ``config``, each once, in a stable order."""
    keys = [
        settings.api_key.reveal()
        for settings in (config.cekura, config.freeplay)
        if settings is not None and not settings.is_simulator  # the simulator's "sim-key" is public
    ]
    values = [value for value in (*keys, *config.secrets) if len(value.strip()) >= MIN_MASKED]
    return tuple(dict.fromkeys(values))


def mask_commands(values: tuple[str, ...]) -> list[str]:
    """One ``::add-mask::`` line per value, and one per line of a multi-line value (GitHub masks line by
    line). The value is escaped like any command data so that ``%`` or a newline cannot end the command."""
    lines: list[str] = []
    for value in values:
        parts = [value, *value.splitlines()] if "\n" in value or "\r" in value else [value]
        for part in parts:
            if part.strip():
                lines.append(f"::add-mask::{escape_data(part)}")
    return lines
