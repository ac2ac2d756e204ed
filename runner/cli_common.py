"""What every command shares: the error printer, the report paths, loading a config (and masking its
secrets under GitHub Actions), warnings, and the GitHub-native output after a verdict."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli_output import Output
from runner.config import insecure_http_providers, load_config
from runner.masking import mask_commands, secret_values
from runner.model import Verdict
from runner.settings import Config
from runner.textclean import escape_workflow_command, one_line

if TYPE_CHECKING:
    from runner.reporters import ReportPaths


def report_paths(args: argparse.Namespace, env: dict[str, str]) -> ReportPaths:
    from runner.reporters import ReportPaths

    out = Path(args.out)
    summary = env.get("GITHUB_STEP_SUMMARY")
    return ReportPaths(
        junit=Path(args.junit) if args.junit else out / "junit.xml",
        json=Path(args.json) if args.json else out / "report.json",
        markdown=Path(args.markdown) if args.markdown else out / "summary.md",
        step_summary=Path(summary) if summary else None,
    )


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def warn_insecure_http(out: Output, config: Config) -> None:
    """One line per provider whose key travels in clear text (``allow_insecure_http: true``)."""
    for provider, host in insecure_http_providers(config):
        out.stderr.write(
            escape_workflow_command(
                f"regate: warning: providers.{provider}: the API key is sent in clear text over http:// to"
                f" {one_line(host, 200)} (allow_insecure_http: true)"
            )
            + "\n"
        )


def warn_advisory_only(out: Output, config: Config) -> None:
    """A run of non-blocking gates only can pass whatever they find: say so once, up front."""
    if config.gates and not any(gate.blocking for gate in config.gates):
        out.stderr.write(
            "regate: warning: every selected gate is non-blocking (blocking: false): their failures are"
            " reported as warnings and cannot fail this step\n"
        )


def load_masked(args: argparse.Namespace, env: dict[str, str]) -> Config:
    """The config, and under GitHub Actions its secrets masked before anything else is printed."""
    config = load_config(args.config, env)
    if env.get("GITHUB_ACTIONS") == "true":
        for line in mask_commands(secret_values(config)):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return config


def requested_paths(paths: ReportPaths) -> list[Path]:
    return [path for path in (paths.junit, paths.json, paths.markdown) if path is not None]


def github_native(verdict: Verdict, paths: ReportPaths, env: dict[str, str], out: Output) -> None:
    """Under GitHub Actions: annotations for the gates that did not pass, and the step's outputs."""
    from runner.reporters.github import MAX_JOB_ANNOTATIONS, append_outputs, gate_annotations, step_outputs

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
