"""The commands other than ``run``: validate, plan, merge, report, baseline save, sim.

This module is imported only for them, and each imports what it alone needs when it runs (httpx, anyio,
the reporters, the simulator), so ``regate validate`` and ``regate plan`` start fast (``runner.cli``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.cli_common import (
    github_native,
    load_masked,
    report_paths,
    warn_insecure_http,
)
from runner.cli_output import Output, print_error
from runner.errors import UsageError
from runner.model import ExitCode
from runner.plan import render_plan, select_gates
from runner.settings import Config
from runner.textclean import escape_workflow_command, one_line


def cmd_validate(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    config = load_masked(args, env)
    warn_insecure_http(out, config)
    modes = ", ".join(sorted({f"{g.provider}/{g.mode}" for g in config.gates}))
    out.stderr.write(f"regate: {args.config} is valid: {len(config.gates)} gate(s) ({modes})\n")
    return ExitCode.OK


def print_plan(config: Config, *, shards: int | None = None, shard: str | None = None) -> int:
    for line in render_plan(config, shards=shards, shard=shard).splitlines():
        sys.stdout.write(escape_workflow_command(line) + "\n")
    sys.stdout.flush()
    return ExitCode.OK


def cmd_plan(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    config = select_gates(load_masked(args, env), args.only, args.labels)
    warn_insecure_http(out, config)
    if args.shards is not None and args.shards < 1:
        raise UsageError(f"--shards {args.shards}: N must be at least 1", hint="e.g. --shards 3")
    code = print_plan(config, shards=args.shards)
    if args.validate:
        return _validate_on_platforms(config)
    return code


def _validate_on_platforms(config: Config) -> int:
    import anyio

    from runner.platform_check import Check, exit_code_of, render_checks, validate_gates
    from runner.providers import open_providers

    async def check() -> list[Check]:
        async with open_providers(config) as providers:
            return await validate_gates(config, providers)

    checks = anyio.run(check)
    for line in render_checks(checks).splitlines():
        sys.stdout.write(escape_workflow_command(line) + "\n")
    sys.stdout.flush()
    return exit_code_of(checks)


def cmd_merge(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    from runner.clock import RealClock
    from runner.merge import merge
    from runner.progress import ConsoleProgress
    from runner.reporters import ReportWriteError, write_reports

    verdict = merge([Path(p) for p in args.reports])
    paths = report_paths(args, env)
    try:
        written = [str(path) for path in write_reports(verdict, paths)]
    except ReportWriteError as exc:
        print_error(out, exc)
        return ExitCode.INTERNAL if exc.internal else max(int(verdict.exit_code), int(ExitCode.INCOMPLETE))
    ConsoleProgress(out.stderr, RealClock(), heartbeat=30.0).final(verdict, written)
    if env.get("GITHUB_ACTIONS") == "true":
        github_native(verdict, paths, env, out)
    return verdict.exit_code


def cmd_report(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    from runner.history import load_history
    from runner.reporters import write_atomic
    from runner.reporters.trend_html import render_trend_html

    history = load_history(args.history)
    for note in history.notes:
        out.stderr.write(escape_workflow_command(f"regate: note: {one_line(note, 1000)}") + "\n")
    path = Path(args.html)
    try:
        write_atomic(path, render_trend_html(history))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot write {path}: {reason}", hint="choose another path with --html") from None
    count = len(history.reports)
    out.stderr.write(escape_workflow_command(f"regate: trend of {count} report(s) written to {path}") + "\n")
    return ExitCode.OK


def cmd_baseline(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    from runner.baseline import save_baseline

    what = save_baseline(Path(args.report), Path(args.to), allow_failed=args.allow_failed)
    out.stderr.write(escape_workflow_command(f"regate: baseline saved to {args.to}: {what}") + "\n")
    return ExitCode.OK


def cmd_sim(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    from runner.simulator.server import run_sim

    keys = list(args.api_keys) or ([env["REGATE_SIM_API_KEY"]] if env.get("REGATE_SIM_API_KEY") else [])
    return run_sim(
        host=args.host, port=args.port, world_path=args.world, speed=args.speed, seed=args.seed,
        faults=args.faults, api_keys=keys,
    )  # fmt: skip
