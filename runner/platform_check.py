"""``regate plan --validate``: the free validations the platforms offer, run without starting anything.

Only Cekura's tests-as-code endpoint has one today: ``run_scenarios_json?dry_run=true`` checks the spec
against the platform's own schema and the agent, and answers the plan (scenarios, runs, estimated cost),
creating and charging nothing (api-contracts §A3.4). Every other gate is listed as not checked, never as
valid: the plan only knows what the config says.

The exit code follows design.md §2: every checked gate valid -> 0; a spec the platform rejects -> 2 (the
spec is part of the config); the platform unreachable or the key refused -> 3 (no answer, no verdict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from runner.errors import AuthError, ProviderError, RequestRejected
from runner.model import ExitCode
from runner.providers.base import Provider
from runner.providers.cekura import CekuraProvider
from runner.settings import CekuraGate, CekuraMode, Config
from runner.textclean import one_line

__all__ = ["Check", "Outcome", "exit_code_of", "render_checks", "validate_gates"]


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True, slots=True)
class Check:
    gate: str
    outcome: Outcome
    detail: str


def _plan_text(plan: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (("scenario_count", "scenarios"), ("total_runs", "runs"), ("channel", "channel")):
        value = plan.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool):
            parts.append(f"{value} {label}" if label != "channel" else f"channel {value}")
    cost = plan.get("estimated_cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        parts.append(f"estimated cost {cost:g}")
    return one_line(", ".join(parts), 300) or "the platform accepted the spec"


async def validate_gates(config: Config, providers: Mapping[str, Provider]) -> list[Check]:
    """One ``Check`` per gate, in config order. An auth failure ends the validation (``AuthError``): every
    further call would be refused the same way."""
    checks: list[Check] = []
    for gate in config.gates:
        provider = providers.get(gate.provider)
        if not (isinstance(gate, CekuraGate) and gate.mode is CekuraMode.JSON):
            what = f"{gate.provider}/{gate.mode}"
            checks.append(Check(gate.name, Outcome.NOT_CHECKED, f"{what}: the platform offers no free check"))
            continue
        if not isinstance(provider, CekuraProvider):
            raise TypeError(f"gate {gate.name!r}: no Cekura provider")  # open_providers guarantees one
        try:
            plan = await provider.dry_run(gate)
        except AuthError:
            raise
        except RequestRejected as exc:
            checks.append(Check(gate.name, Outcome.INVALID, one_line(exc.message, 1000)))
        except ProviderError as exc:
            checks.append(Check(gate.name, Outcome.UNREACHABLE, one_line(exc.message, 500)))
        else:
            checks.append(Check(gate.name, Outcome.VALID, _plan_text(plan)))
    return checks


def render_checks(checks: Sequence[Check]) -> str:
    lines = ["platform validation (nothing created or charged):"]
    lines += [f"  {check.gate}: {check.outcome.value}: {check.detail}" for check in checks]
    return "\n".join(lines) + "\n"  # the CLI escapes each line before printing it


def exit_code_of(checks: Sequence[Check]) -> ExitCode:
    if any(check.outcome is Outcome.INVALID for check in checks):
        return ExitCode.USAGE
    if any(check.outcome is Outcome.UNREACHABLE for check in checks):
        return ExitCode.INCOMPLETE
    return ExitCode.OK
