"""What a run would do, without doing it: ``regate plan`` and ``regate run --dry-run``. Pure.

For each gate: its platform and mode, what it targets, how it selects, and how many calls it will place —
``scenarios × frequency × personalities × test profiles`` for Cekura's voice family,
``scenarios × frequency`` for the modes without multipliers (api-contracts §A2). Where the platform decides
the count (scenarios selected by tag or folder, a tests-as-code spec, a Freeplay dataset or suite), the plan
says so instead of guessing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runner.errors import UsageError
from runner.settings import (
    VOICE_FAMILY,
    CekuraGate,
    CekuraMode,
    CommandTarget,
    Config,
    FreeplayGate,
    GateSpec,
)


@dataclass(frozen=True, slots=True)
class GatePlan:
    name: str
    kind: str  # "cekura/voice", "freeplay/dataset"
    target: str  # "agent 101", "dataset support-faq"
    selection: str  # "scenarios 201, 202", "tags smoke", "folder Sales.Inbound"
    calls: int | None  # runs (Cekura) the gate will start; None when the platform decides
    formula: str  # how calls is computed, or who decides it
    executes: str | None = None  # what regate runs per test case (Freeplay targets)


def select_gates(config: Config, patterns: Sequence[str], labels: Sequence[str] = ()) -> Config:
    """Keep the gates whose name matches one of ``patterns`` (exact or a glob) and that carry one of
    ``labels``; a filter not given keeps every gate. A pattern or label that matches nothing is a usage
    error: a typo must not silently gate less than asked."""
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(gate.name, pattern) for gate in config.gates):
            names = ", ".join(gate.name for gate in config.gates)
            raise UsageError(f"--only {pattern!r} matches no gate", hint=f"the gates are: {names}")
    known = sorted({label for gate in config.gates for label in gate.labels})
    for label in labels:
        if label not in known:
            raise UsageError(
                f"--label {label!r} is on no gate",
                hint=f"the labels are: {', '.join(known)}" if known else "add labels: [...] to gates",
            )
    kept = tuple(
        g
        for g in config.gates
        if (not patterns or any(fnmatch.fnmatchcase(g.name, p) for p in patterns))
        and (not labels or any(label in g.labels for label in labels))
    )
    if not kept:
        raise UsageError(
            f"no gate matches both {' '.join(f'--only {p}' for p in patterns)} and"
            f" {' '.join(f'--label {label}' for label in labels)}",
            hint="--only and --label combine: a gate must match both",
        )
    return replace(config, gates=kept)


def _cekura(gate: CekuraGate) -> GatePlan:
    frequency = gate.frequency or 1
    if gate.scenarios:
        selection = "scenarios " + ", ".join(str(ref.id) for ref in gate.scenarios)
    elif gate.tags:
        selection = "tags " + ", ".join(gate.tags)
    elif gate.folder is not None:
        selection = f"folder {gate.folder} (project {gate.project})"
    else:
        selection = "the spec's scenarios"
    factors = [f"frequency {frequency}"]
    multiplier = frequency
    if gate.mode in VOICE_FAMILY:
        personalities = max(1, len(gate.personalities))
        profiles = max(1, len(gate.test_profiles))
        factors += [f"personalities {personalities}", f"test profiles {profiles}"]
        multiplier *= personalities * profiles
    if gate.mode is CekuraMode.PIPECAT_V1:
        factors, multiplier = [], 1  # one run per scenarios[] entry
    if gate.mode is CekuraMode.JSON:
        spec = json.loads(gate.spec_json or "{}")
        count = len(spec.get("scenarios") or []) if isinstance(spec, dict) else 0
        formula = f"{count} spec scenarios × their own frequencies (the platform expands them)"
        return GatePlan(gate.name, f"cekura/{gate.mode}", f"agent {gate.agent}", selection, None, formula)
    if gate.scenarios:
        calls = len(gate.scenarios) * multiplier
        formula = " × ".join([f"{len(gate.scenarios)} scenarios", *factors])
        return GatePlan(gate.name, f"cekura/{gate.mode}", f"agent {gate.agent}", selection, calls, formula)
    formula = f"{multiplier} run(s) per scenario the platform matches ({' × '.join(factors)})"
    return GatePlan(gate.name, f"cekura/{gate.mode}", f"agent {gate.agent}", selection, None, formula)


def _freeplay(gate: FreeplayGate) -> GatePlan:
    target = f"dataset {gate.dataset}" if gate.dataset is not None else f"suite {gate.suite}"
    executes = None
    if isinstance(gate.target, CommandTarget):
        executes = f"command {' '.join(gate.target.command)} ({gate.target_concurrency} at a time)"
    elif gate.target is not None:
        executes = f"POST {gate.target.url} ({gate.target_concurrency} at a time)"
    who = "the platform runs every case" if gate.target is None else "one target call per test case"
    formula = f"the {'dataset' if gate.dataset else 'suite'}'s test cases: {who}"
    return GatePlan(gate.name, f"freeplay/{gate.mode}", target, target, None, formula, executes)


def plan_gate(gate: GateSpec) -> GatePlan:
    return _cekura(gate) if isinstance(gate, CekuraGate) else _freeplay(gate)


def render_plan(config: Config, *, shards: int | None = None, shard: str | None = None) -> str:
    """The plan as text. ``shards``: also show each gate's shard of N and each shard's load; ``shard``:
    this is the plan of one shard ("I/N") of a sharded run."""
    plans = [plan_gate(gate) for gate in config.gates]
    of_shard = f" (shard {shard})" if shard else ""
    lines = [f"regate plan: {config.path}{of_shard}: {len(plans)} gate(s); nothing is started"]
    assignment = shard_of(config, shards) if shards else {}
    for gate, p in zip(config.gates, plans, strict=True):
        calls = f"{p.calls} run(s)" if p.calls is not None else "count decided by the platform"
        notes = [f"labels {', '.join(gate.labels)}"] if gate.labels else []
        notes += ["non-blocking: reported, never fails the step"] if not gate.blocking else []
        notes += [f"shard {assignment[gate.name]}/{shards}"] if assignment else []
        lines.append(f"  {p.name}: {p.kind} on {p.target}; {p.selection}")
        lines.append(f"      {calls}: {p.formula}")
        if p.executes:
            lines.append(f"      executes {p.executes}")
        if notes:
            lines.append(f"      {'; '.join(notes)}")
    known = [p.calls for p in plans if p.calls is not None]
    open_ = len(plans) - len(known)
    lines.append(
        f"total: {sum(known)} run(s) known" + (f", plus {open_} gate(s) the platform sizes" if open_ else "")
    )
    if shards:
        for index in range(1, shards + 1):
            mine = [p for p in plans if assignment[p.name] == index]
            runs = sum(p.calls for p in mine if p.calls is not None)
            sized = sum(1 for p in mine if p.calls is None)
            extra = f" + {sized} the platform sizes" if sized else ""
            names = ", ".join(p.name for p in mine) or "no gate (an empty shard passes nothing: exit 3)"
            lines.append(f"shard {index}/{shards}: {runs} run(s){extra}: {names}")
    return "\n".join(lines) + "\n"  # the CLI escapes each line before printing it


UNKNOWN_WEIGHT = 10  # a gate whose size the platform decides counts as this many runs when balancing


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3); a clear UsageError for anything else."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(
            f"--shard {text!r} is not I/N", hint="e.g. --shard 2/3 for the second of three"
        ) from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: I must be between 1 and N", hint="e.g. --shard 1/3")
    return index, count


SHARD_SLACK = 0.15  # a shard may carry this much more than an equal share before gates spill elsewhere


def _affinity(name: str, shard: int) -> int:
    """The gate's preference for a shard: a stable hash (never Python's per-process ``hash``)."""
    digest = hashlib.blake2b(f"{name}\0{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(config: Config, count: int) -> dict[str, int]:
    """Each gate's shard (1..count), the same on every shard of the same config.

    Rendezvous hashing with bounded loads: each gate, largest first, goes to the shard it ranks highest
    whose expected runs stay within ``(1 + SHARD_SLACK)`` of an equal share, else to the least loaded one.
    A gate's ranking depends on its name only, so adding or removing a gate moves few others (plain
    hashing would be stabler but can leave one shard with twice the work; a greedy split is balanced but
    reshuffles everything when a gate is added)."""
    weights = {g.name: plan_gate(g).calls or UNKNOWN_WEIGHT for g in config.gates}
    cap = (1 + SHARD_SLACK) * sum(weights.values()) / count
    load = [0] * count
    assignment: dict[str, int] = {}
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        ranked = sorted(range(count), key=lambda i: _affinity(name, i), reverse=True)
        fits = [i for i in ranked if load[i] + weights[name] <= cap]
        target = fits[0] if fits else min(range(count), key=lambda i: (load[i], i))
        assignment[name] = target + 1
        load[target] += weights[name]
    return assignment


def select_shard(config: Config, index: int, count: int) -> Config:
    assignment = shard_of(config, count)
    return replace(config, gates=tuple(g for g in config.gates if assignment[g.name] == index))
