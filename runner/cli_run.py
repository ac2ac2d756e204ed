"""``regate run``: load, select, start every gate, wait, evaluate, write the reports, write back, exit.

Signals: until the orchestrator watches them itself (and after it stops), SIGINT/SIGTERM/SIGHUP raise
``_Interrupted`` so that even a signal during config loading or simulator start-up leaves reports."""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import anyio

from runner import __version__
from runner.baseline import fetch_result_baselines, judging_of, load_report_baselines
from runner.cli_commands import print_plan
from runner.cli_common import (
    github_native,
    load_masked,
    report_paths,
    requested_paths,
    utc_now,
    warn_advisory_only,
    warn_insecure_http,
)
from runner.cli_output import Output, print_error
from runner.clock import RealClock
from runner.config_freeplay import run_context
from runner.errors import RegateError
from runner.gate import evaluate
from runner.masking import secret_values
from runner.model import ExitCode, Verdict
from runner.orchestrator import SIGNAL_NAMES, RunSummary, execute
from runner.plan import parse_shard, select_gates, select_shard
from runner.progress import ConsoleProgress
from runner.providers import open_providers
from runner.providers.base import Provider
from runner.reporters import ReportPaths, ReportWriteError, write_reports
from runner.settings import Config
from runner.textclean import escape_workflow_command, one_line
from runner.writeback_run import write_back_gates


class _Interrupted(BaseException):
    """A signal that arrived before the orchestrator's own signal handling was in place."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@contextlib.contextmanager
def _early_signals() -> Iterator[None]:
    """Until the orchestrator watches signals itself (and after it stops), SIGINT/SIGTERM/SIGHUP raise
    ``_Interrupted`` so that even a signal during config loading or simulator start-up leaves reports."""

    def handler(signum: int, frame: object) -> None:
        raise _Interrupted(SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}"))

    previous = {sig: signal.getsignal(sig) for sig in SIGNAL_NAMES}
    for sig in SIGNAL_NAMES:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ignore_late_signals() -> None:
    for sig in SIGNAL_NAMES:
        signal.signal(sig, signal.SIG_IGN)  # _early_signals restores the original handlers on the way out


def _interrupt_of(exc: BaseException) -> _Interrupted | None:
    if isinstance(exc, _Interrupted):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _interrupt_of(inner)
            if found is not None:
                return found
    return None


def cmd_run(args: argparse.Namespace, env: dict[str, str], out: Output) -> int:
    paths = report_paths(args, env)
    started_at = utc_now()
    t0 = time.monotonic()
    try:
        with _early_signals():
            return _run(args, env, out, paths, started_at, t0)
    except BaseException as exc:
        interrupt = _interrupt_of(exc)
        if interrupt is None:
            raise
    # Interrupted before any gate started: still leave reports that say so, and exit 130/143.
    verdict = evaluate(
        [], started_at=started_at, duration_s=time.monotonic() - t0, config_path=args.config,
        version=__version__, interrupted_by=interrupt.name,
        runner_errors=[f"interrupted by {interrupt.name} before any gate started"],
    )  # fmt: skip
    out.stderr.write(f"regate: {interrupt.name} received before any gate started: writing reports\n")
    try:
        written = [str(path) for path in write_reports(verdict, paths)]
    except ReportWriteError as exc:
        print_error(out, exc)
        written = []
    ConsoleProgress(out.stderr, RealClock(), heartbeat=30.0).final(verdict, written)
    return verdict.exit_code


def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    out: Output,
    paths: ReportPaths,
    started_at: str,
    t0: float,
) -> int:
    config = select_gates(load_masked(args, env), args.only, args.labels)
    shard = parse_shard(args.shard) if args.shard else None
    notes: list[str] = []  # runner errors known before anything starts
    if shard is not None:
        selected = len(config.gates)
        config = select_shard(config, *shard)
        if not config.gates:
            notes.append(
                f"shard {shard[0]}/{shard[1]} has no gate: {selected} gate(s) over {shard[1]} shards leave it"
                f" empty (use at most {selected} shards); an empty selection is never a pass"
            )
    warn_insecure_http(out, config)
    warn_advisory_only(out, config)
    if args.dry_run:
        return print_plan(config, shard=args.shard)
    report_baselines = load_report_baselines(config)  # a broken baseline file is exit 2, before any start
    clock = RealClock()
    progress = ConsoleProgress(
        out.stderr, clock, heartbeat=config.defaults.poll.heartbeat, quiet=args.quiet, specs=config.gates,
        github=env.get("GITHUB_ACTIONS") == "true",
    )  # fmt: skip
    verdicts: list[Verdict] = []
    write_failed: list[str] = []

    def finish(
        summary: RunSummary | None, runner_errors: Sequence[str] = (), *, internal_error: bool = False
    ) -> None:
        executions = summary.executions if summary is not None else ()
        by_name = {spec.name: spec for spec in config.gates}
        verdict = evaluate(
            [(execution, by_name[execution.gate].thresholds) for execution in executions],
            judging=progress.judging or judging_of(config, report_baselines),
            judged=progress.judged,
            started_at=started_at,
            duration_s=summary.duration_s if summary is not None else time.monotonic() - t0,
            config_path=args.config,
            version=__version__,
            interrupted_by=summary.interrupted_by if summary is not None else None,
            runner_errors=[*notes, *runner_errors],
            internal_error=internal_error,
        )
        if shard is not None:
            verdict = replace(verdict, shard=f"{shard[0]}/{shard[1]}")
        verdicts.append(verdict)
        try:
            written = write_reports(verdict, paths)
        except ReportWriteError as exc:
            write_failed.append("internal" if exc.internal else "io")
            print_error(out, exc)
            failed = {path for _, path, _ in exc.failures}
            written = [path for path in requested_paths(paths) if path not in failed]
        progress.final(verdict, [str(path) for path in written])
        if env.get("GITHUB_ACTIONS") == "true":
            github_native(verdict, paths, env, out)

    async def main_async() -> None:
        try:
            async with open_providers(config) as providers:
                fetched = await fetch_result_baselines(config, providers)
                progress.judging = judging_of(config, {**report_baselines, **fetched})
                await execute(
                    config, providers, clock=clock, events=progress, on_finished=finish,
                    rng=random.Random(),  # noqa: S311 - jitter only
                )  # fmt: skip
                # The reports hold the final verdict now: a late signal must not kill the process with
                # an exit code they do not show (the orchestrator's own handling has just ended).
                _ignore_late_signals()
                if verdicts and verdicts[-1].interrupted_by is None:
                    await _write_back(config, verdicts[-1], providers, env, out)
        except RegateError as exc:
            if verdicts:
                raise
            print_error(out, exc)
            finish(None, [exc.message])
        except Exception as exc:
            if verdicts:
                raise
            # A bug before any verdict: still leave reports behind that say so (exit 4 everywhere).
            finish(
                None,
                [f"internal error: {type(exc).__name__}: {one_line(str(exc), 300)}"],
                internal_error=True,
            )
            raise

    anyio.run(main_async)
    verdict = verdicts[-1]  # the last one written (a late signal rewrites the reports as interrupted)
    if "internal" in write_failed:
        return ExitCode.INTERNAL  # a report contradicted the verdict: a bug, never a silent green
    if write_failed and verdict.exit_code == ExitCode.OK:
        return ExitCode.INCOMPLETE  # a green step without its reports would hide the evidence
    return verdict.exit_code


WRITE_BACK_TIMEOUT = 120.0  # seconds: write-back runs after the verdict, with signals ignored


async def _write_back(
    config: Config, verdict: Verdict, providers: Mapping[str, Provider], env: dict[str, str], out: Output
) -> None:
    """The opt-in write-back of the gates that ask for it; failures warn, the verdict stays as it is."""
    if not any(getattr(gate, "write_back", None) for gate in config.gates):
        return
    with anyio.move_on_after(WRITE_BACK_TIMEOUT):
        ci = run_context(env, datetime.now(UTC))
        for report in await write_back_gates(config, verdict, providers, ci, secrets=secret_values(config)):
            out.stderr.write(escape_workflow_command(f"regate: {one_line(report.summary(), 500)}") + "\n")
            for failure in report.failures:
                line = f"regate: warning: write-back {report.gate}: {one_line(failure, 500)}"
                out.stderr.write(escape_workflow_command(line) + "\n")
        out.stderr.flush()
        return
    out.stderr.write(
        f"regate: warning: write-back stopped after {WRITE_BACK_TIMEOUT:.0f}s: some writes missing\n"
    )
