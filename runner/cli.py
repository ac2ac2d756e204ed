"""Command line: the only place that reads argv and the environment, prints, and picks the exit code.

regate run CONFIG      start every gate, wait, evaluate, write reports, exit with the verdict
regate validate CONFIG check a config without calling any API
regate sim             serve the platform simulator on 127.0.0.1
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

import anyio

from runner import __version__
from runner.baseline import fetch_result_baselines, judging_of, load_report_baselines, save_baseline
from runner.clock import RealClock
from runner.config import insecure_http_providers, load_config
from runner.config_freeplay import run_context
from runner.errors import ConfigError, RegateError, UsageError
from runner.gate import evaluate
from runner.masking import mask_commands, secret_values
from runner.merge import merge
from runner.model import ExitCode, Verdict
from runner.orchestrator import SIGNAL_NAMES, RunSummary, execute
from runner.plan import parse_shard, render_plan, select_gates, select_shard
from runner.platform_check import Check, exit_code_of, render_checks, validate_gates
from runner.progress import ConsoleProgress
from runner.providers import open_providers
from runner.providers.base import Provider
from runner.reporters import ReportPaths, ReportWriteError, write_reports
from runner.reporters.github import MAX_JOB_ANNOTATIONS, append_outputs, gate_annotations, step_outputs
from runner.settings import Config
from runner.textclean import clean_text, escape_workflow_command, one_line
from runner.writeback_run import write_back_gates

EXIT_CODES_HELP = """exit codes:
  0    every gate passed
  1    at least one gate failed its thresholds on complete data (a regression)
  2    usage or config error (nothing was started)
  3    incomplete: platform error, timeout, auth failure, unknown status, nothing ran
  4    internal error (a bug in regate)
  130  interrupted by SIGINT (reports still written, remote calls ended)
  143  interrupted by SIGTERM (reports still written, remote calls ended)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"run '{self.prog} --help'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="regate",
        description="CI regression gate for AI-agent test platforms (Cekura, Freeplay).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"regate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="run the gates of a config", epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("config", help="path to the YAML config")
    run.add_argument("--out", default="regate-results", help="report folder (default: regate-results)")
    run.add_argument("--junit", help="JUnit XML path (default: OUT/junit.xml)")
    run.add_argument("--json", help="JSON report path (default: OUT/report.json)")
    run.add_argument("--markdown", help="Markdown summary path (default: OUT/summary.md)")
    run.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="run only the gates with this name or glob (repeatable)",
    )  # fmt: skip
    _label_option(run)
    run.add_argument(
        "--dry-run", action="store_true", help="print the plan (as 'regate plan') and start nothing"
    )
    run.add_argument(
        "--shard", metavar="I/N", help="run the I-th of N balanced shards (merge them with 'regate merge')"
    )
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", action="store_true", help="print only problems and the final line")
    verbosity.add_argument("--debug", action="store_true", help="print requests and tracebacks (never keys)")

    validate = sub.add_parser("validate", help="check a config without calling any API")
    validate.add_argument("config", help="path to the YAML config")

    plan = sub.add_parser(
        "plan", help="print what a run would start, and how many calls, without starting it"
    )
    plan.add_argument("config", help="path to the YAML config")
    plan.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="gate name or glob (repeatable)"
    )
    _label_option(plan)
    plan.add_argument(
        "--shards", type=int, metavar="N", help="also show how 'run --shard I/N' splits the gates"
    )
    plan.add_argument(
        "--validate", action="store_true",
        help="also run the platforms' free validations (Cekura tests-as-code specs: a dry run that"
        " creates and charges nothing); needs the API keys",
    )  # fmt: skip

    merge = sub.add_parser(
        "merge", help="merge shard reports (report.json of run --shard) into one verdict",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    merge.add_argument("reports", nargs="+", help="the report.json of every shard")
    merge.add_argument("--out", default="regate-results", help="report folder (default: regate-results)")
    merge.add_argument("--junit", help="JUnit XML path (default: OUT/junit.xml)")
    merge.add_argument("--json", help="JSON report path (default: OUT/report.json)")
    merge.add_argument("--markdown", help="Markdown summary path (default: OUT/summary.md)")

    report = sub.add_parser(
        "report", help="render a trend page (HTML) from the report.json of past runs",
        description="Render one self-contained HTML page (no script, no network) with each gate's success"
        " rate and key metrics over time and the newest report's failures.",
    )  # fmt: skip
    report.add_argument(
        "--history", nargs="+", required=True, metavar="REPORT.json",
        help="report.json files of past runs, in any order (a quoted glob is expanded)",
    )  # fmt: skip
    report.add_argument("--html", required=True, metavar="OUT.html", help="where to write the page")

    baseline = sub.add_parser("baseline", help="manage baselines for change checks (drop/increase)")
    baseline_sub = baseline.add_subparsers(dest="baseline_command", required=True, parser_class=_Parser)
    save = baseline_sub.add_parser(
        "save", help="bless a report.json as the baseline change checks compare with"
    )
    save.add_argument("report", help="a report.json of a finished, passing run (or merged shards)")
    save.add_argument("--to", required=True, metavar="PATH", help="where the config's baseline.report points")
    save.add_argument(
        "--allow-failed",
        action="store_true",
        help="bless a run that did not pass (it is still refused if incomplete)",
    )

    sim = sub.add_parser("sim", help="serve the platform simulator (loopback only)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765, help="0 picks a free port (default: 8765)")
    sim.add_argument("--world", help="world YAML (default: the packaged world)")
    sim.add_argument("--speed", type=float, default=1.0, help="time compression factor (default: 1)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--faults", help="fault-injection spec, e.g. 'results:429=2@0.2;results:503@#2'")
    sim.add_argument(
        "--api-key", action="append", default=[], dest="api_keys",
        help="accepted API key (repeatable; default: any non-empty key; env REGATE_SIM_API_KEY)",
    )  # fmt: skip
    return parser


def _label_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label", "--tag", action="append", default=[], dest="labels", metavar="LABEL",
        help="only the gates carrying this label (labels: [...] in the config; repeatable)",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Output:
    stderr: TextIO
    debug: bool


def _print_error(out: _Output, exc: RegateError) -> None:
    out.stderr.write(escape_workflow_command(f"regate: error: {one_line(exc.message, 2000)}") + "\n")
    if exc.hint:
        out.stderr.write(escape_workflow_command(f"regate: hint: {one_line(exc.hint, 1000)}") + "\n")
    out.stderr.flush()


def _report_paths(args: argparse.Namespace, env: dict[str, str]) -> ReportPaths:
    out = Path(args.out)
    summary = env.get("GITHUB_STEP_SUMMARY")
    return ReportPaths(
        junit=Path(args.junit) if args.junit else out / "junit.xml",
        json=Path(args.json) if args.json else out / "report.json",
        markdown=Path(args.markdown) if args.markdown else out / "summary.md",
        step_summary=Path(summary) if summary else None,
    )


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _warn_insecure_http(out: _Output, config: Config) -> None:
    """One line per provider whose key travels in clear text (``allow_insecure_http: true``)."""
    for provider, host in insecure_http_providers(config):
        out.stderr.write(
            escape_workflow_command(
                f"regate: warning: providers.{provider}: the API key is sent in clear text over http:// to"
                f" {one_line(host, 200)} (allow_insecure_http: true)"
            )
            + "\n"
        )


def _warn_advisory_only(out: _Output, config: Config) -> None:
    """A run of non-blocking gates only can pass whatever they find: say so once, up front."""
    if config.gates and not any(gate.blocking for gate in config.gates):
        out.stderr.write(
            "regate: warning: every selected gate is non-blocking (blocking: false): their failures are"
            " reported as warnings and cannot fail this step\n"
        )


def _load(args: argparse.Namespace, env: dict[str, str]) -> Config:
    """The config, and under GitHub Actions its secrets masked before anything else is printed."""
    config = load_config(args.config, env)
    if env.get("GITHUB_ACTIONS") == "true":
        for line in mask_commands(secret_values(config)):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return config


def _cmd_validate(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    config = _load(args, env)
    _warn_insecure_http(out, config)
    modes = ", ".join(sorted({f"{g.provider}/{g.mode}" for g in config.gates}))
    out.stderr.write(f"regate: {args.config} is valid: {len(config.gates)} gate(s) ({modes})\n")
    return ExitCode.OK


def _print_plan(config: Config, *, shards: int | None = None, shard: str | None = None) -> int:
    for line in render_plan(config, shards=shards, shard=shard).splitlines():
        sys.stdout.write(escape_workflow_command(line) + "\n")
    sys.stdout.flush()
    return ExitCode.OK


def _cmd_plan(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    config = select_gates(_load(args, env), args.only, args.labels)
    _warn_insecure_http(out, config)
    if args.shards is not None and args.shards < 1:
        raise UsageError(f"--shards {args.shards}: N must be at least 1", hint="e.g. --shards 3")
    code = _print_plan(config, shards=args.shards)
    if args.validate:
        return _validate_on_platforms(config)
    return code


def _validate_on_platforms(config: Config) -> int:
    async def check() -> list[Check]:
        async with open_providers(config) as providers:
            return await validate_gates(config, providers)

    checks = anyio.run(check)
    for line in render_checks(checks).splitlines():
        sys.stdout.write(escape_workflow_command(line) + "\n")
    sys.stdout.flush()
    return exit_code_of(checks)


def _cmd_merge(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    verdict = merge([Path(p) for p in args.reports])
    paths = _report_paths(args, env)
    try:
        written = [str(path) for path in write_reports(verdict, paths)]
    except ReportWriteError as exc:
        _print_error(out, exc)
        return ExitCode.INTERNAL if exc.internal else max(int(verdict.exit_code), int(ExitCode.INCOMPLETE))
    ConsoleProgress(out.stderr, RealClock(), heartbeat=30.0).final(verdict, written)
    if env.get("GITHUB_ACTIONS") == "true":
        _github_native(verdict, paths, env, out)
    return verdict.exit_code


def _cmd_report(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
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


def _cmd_run(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    paths = _report_paths(args, env)
    started_at = _utc_now()
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
        _print_error(out, exc)
        written = []
    ConsoleProgress(out.stderr, RealClock(), heartbeat=30.0).final(verdict, written)
    return verdict.exit_code


def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    out: _Output,
    paths: ReportPaths,
    started_at: str,
    t0: float,
) -> int:
    config = select_gates(_load(args, env), args.only, args.labels)
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
    _warn_insecure_http(out, config)
    _warn_advisory_only(out, config)
    if args.dry_run:
        return _print_plan(config, shard=args.shard)
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
            _print_error(out, exc)
            failed = {path for _, path, _ in exc.failures}
            written = [path for path in _requested(paths) if path not in failed]
        progress.final(verdict, [str(path) for path in written])
        if env.get("GITHUB_ACTIONS") == "true":
            _github_native(verdict, paths, env, out)

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
            _print_error(out, exc)
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
    config: Config, verdict: Verdict, providers: Mapping[str, Provider], env: dict[str, str], out: _Output
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


def _github_native(verdict: Verdict, paths: ReportPaths, env: dict[str, str], out: _Output) -> None:
    """Under GitHub Actions: annotations for the gates that did not pass, and the step's outputs."""
    counter = Path(env["RUNNER_TEMP"]) / "regate-annotations" if env.get("RUNNER_TEMP") else None
    used = _annotations_used(counter)
    lines = gate_annotations(verdict, budget=MAX_JOB_ANNOTATIONS - used)
    for line in lines:
        sys.stdout.write(line + "\n")  # escaped workflow commands, one line each
    sys.stdout.flush()
    if counter is not None and lines:
        with contextlib.suppress(OSError):  # a lost count only risks GitHub dropping some annotations
            counter.write_text(str(used + len(lines)), encoding="ascii")
    output = env.get("GITHUB_OUTPUT")
    if output:
        try:
            append_outputs(Path(output), step_outputs(verdict, junit=paths.junit, report_json=paths.json))
        except OSError as exc:
            out.stderr.write(
                f"regate: warning: cannot write the step outputs to $GITHUB_OUTPUT: {exc.strerror}\n"
            )


def _annotations_used(counter: Path | None) -> int:
    """How many annotations earlier regate steps of this job wrote (``$RUNNER_TEMP`` is per job)."""
    if counter is None:
        return 0
    try:
        return max(int(counter.read_text(encoding="ascii").strip()), 0)
    except (OSError, ValueError):
        return 0


def _requested(paths: ReportPaths) -> list[Path]:
    return [path for path in (paths.junit, paths.json, paths.markdown) if path is not None]


def _cmd_baseline(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    what = save_baseline(Path(args.report), Path(args.to), allow_failed=args.allow_failed)
    out.stderr.write(escape_workflow_command(f"regate: baseline saved to {args.to}: {what}") + "\n")
    return ExitCode.OK


def _cmd_sim(args: argparse.Namespace, env: dict[str, str], out: _Output) -> int:
    from runner.simulator.server import run_sim

    keys = list(args.api_keys) or ([env["REGATE_SIM_API_KEY"]] if env.get("REGATE_SIM_API_KEY") else [])
    return run_sim(
        host=args.host, port=args.port, world_path=args.world, speed=args.speed, seed=args.seed,
        faults=args.faults, api_keys=keys,
    )  # fmt: skip


class _LogFormatter(logging.Formatter):
    """Log lines, and ``--debug`` tracebacks (whose exception messages may quote remote text), cleaned and
    escaped so that no line of them can become a GitHub workflow command."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_workflow_command(clean_text(super().format(record)))


def _configure_logging(debug: bool, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_LogFormatter("regate: %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("regate")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


def main(argv: Sequence[str] | None = None, *, env: dict[str, str] | None = None) -> int:
    """Run regate; return the exit code. The single error boundary of the program."""
    environ = dict(os.environ if env is None else env)
    out = _Output(stderr=sys.stderr, debug=False)
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        out = _Output(stderr=sys.stderr, debug=bool(getattr(args, "debug", False)))
        _configure_logging(out.debug, out.stderr)
        commands = {
            "run": _cmd_run, "validate": _cmd_validate, "plan": _cmd_plan, "merge": _cmd_merge,
            "sim": _cmd_sim, "report": _cmd_report,
            "baseline": _cmd_baseline,
        }  # fmt: skip
        return int(commands[args.command](args, environ, out))
    except RegateError as exc:
        _print_error(out, exc)
        return ExitCode.USAGE if _is_usage(exc) else ExitCode.INCOMPLETE
    except KeyboardInterrupt:
        sys.stderr.write("regate: interrupted\n")
        return ExitCode.SIGINT
    except Exception as exc:
        if out.debug:
            logging.getLogger("regate").exception("internal error")
        sys.stderr.write(
            f"regate: internal error: {type(exc).__name__}: {one_line(str(exc), 500)}\n"
            "regate: hint: this is a bug in regate; rerun with --debug and report it\n"
        )
        return ExitCode.INTERNAL


def _is_usage(exc: RegateError) -> bool:
    return isinstance(exc, UsageError | ConfigError)


def main_entry() -> None:
    sys.exit(main())


__all__ = ["build_parser", "main", "main_entry"]
