"""Command line: the only place that reads argv and the environment, prints, and picks the exit code.

regate run CONFIG      start every gate, wait, evaluate, write reports, exit with the verdict
regate validate CONFIG check a config without calling any API
regate sim             serve the platform simulator on 127.0.0.1
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from runner import __version__
from runner.cli_output import Output, print_error
from runner.errors import ConfigError, RegateError, UsageError
from runner.exitcodes import ExitCode
from runner.textclean import clean_text, escape_workflow_command, one_line

# Each command lives in the module that needs its dependencies, imported only when it runs: `regate --help`
# and `regate validate` do not pay for httpx, anyio, the reporters or the simulator.
COMMANDS = {
    "run": ("runner.cli_run", "cmd_run"),
    "validate": ("runner.cli_commands", "cmd_validate"),
    "plan": ("runner.cli_commands", "cmd_plan"),
    "merge": ("runner.cli_commands", "cmd_merge"),
    "report": ("runner.cli_commands", "cmd_report"),
    "baseline": ("runner.cli_commands", "cmd_baseline"),
    "sim": ("runner.cli_commands", "cmd_sim"),
}

Command = Callable[[argparse.Namespace, dict[str, str], Output], int]


def _command(name: str) -> Command:
    module, function = COMMANDS[name]
    found: Command = getattr(importlib.import_module(module), function)
    return found


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


def _configure_logging(debug: bool, stream: TextIO) -> None:
    import logging  # here, not at start-up: `regate --help` needs none of it (12 ms of imports)

    class LogFormatter(logging.Formatter):
        """Log lines, and ``--debug`` tracebacks (whose exception messages may quote remote text), cleaned
        and escaped so that no line of them can become a GitHub workflow command."""

        def format(self, record: logging.LogRecord) -> str:
            return escape_workflow_command(clean_text(super().format(record)))

    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormatter("regate: %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("regate")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.propagate = False


def main(argv: Sequence[str] | None = None, *, env: dict[str, str] | None = None) -> int:
    """Run regate; return the exit code. The single error boundary of the program."""
    environ = dict(os.environ if env is None else env)
    out = Output(stderr=sys.stderr, debug=False)
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        out = Output(stderr=sys.stderr, debug=bool(getattr(args, "debug", False)))
        _configure_logging(out.debug, out.stderr)
        return int(_command(args.command)(args, environ, out))
    except RegateError as exc:
        print_error(out, exc)
        return ExitCode.USAGE if _is_usage(exc) else ExitCode.INCOMPLETE
    except KeyboardInterrupt:
        sys.stderr.write("regate: interrupted\n")
        return ExitCode.SIGINT
    except Exception as exc:
        if out.debug:
            import logging  # configured by then: --debug is an option of a command that ran

            logging.getLogger("regate").exception("internal error")
        sys.stderr.write(
            f"regate: internal error: {type(exc).__name__}: {one_line(str(exc), 500)}\n"
            "regate: hint: this is a bug in regate; rerun with --debug and report it\n"
        )
        return ExitCode.INTERNAL


def _is_usage(exc: RegateError) -> bool:
    return isinstance(exc, UsageError | ConfigError)


# A run parses each result's whole JSON and keeps little of it. With CPython's default threshold (700) the
# collector also walked the whole growing heap about 30 times at 1,000 gates: 3.5 s of CPU, measured; at
# this one, none. Cyclic garbage is rare here. Set for the program only: `main` leaves callers' settings.
GC_THRESHOLD = 20_000


def main_entry() -> None:
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    sys.exit(main())


__all__ = ["build_parser", "main", "main_entry"]
