"""Report history: regate's own ``report.json`` files read back for ``regate report`` (the trend page).

``parse_report(text, source)`` is pure: JSON text in, a typed ``Report`` out, or a ``UsageError`` whose
message names the file and the field (``nightly/3.json: gates[1].checks[0].status: expected a string, got
null``). Only the fields the trend page shows are read and checked; unknown fields are ignored, so a report
of a newer regate with the same ``schema_version`` still reads. ``build_history`` orders and checks a set of
reports; ``load_history`` is the thin reader around both.

Decisions (fail closed, never a silent mix-up):

- **Order** is by ``started_at`` (then config path, then file name for a stable order), never by the order
  of the arguments: a shell glob sorts ``9.json`` after ``10.json``. A ``started_at`` without an offset is
  taken as UTC (regate always writes ``Z``).
- **Duplicates**: two reports of the same config that started at the same second are the same run. If they
  are identical (the same file reached through two globs, or a copy), it is read once and a note says so;
  if they differ, they are refused: a trend cannot show two different outcomes for one run.
- **Shards**: the report of one shard (``shard: "I/N"``) holds only part of the gates, so it would show the
  others as missing. It is refused, with a hint to ``regate merge`` the shards first (the merged report has
  no ``shard``).
- Every string goes through ``clean_text`` (a hand-edited report may hold a lone surrogate or control
  characters); NaN and infinities (``json`` accepts them) are read as missing, like the writer does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.model import CheckStatus, GateStatus, RunOutcome, VerdictStatus
from runner.reporters.json_report import SCHEMA_VERSION, TOOL_NAME
from runner.textclean import clean_text

__all__ = [
    "CheckPoint",
    "GateRecord",
    "History",
    "Report",
    "build_history",
    "load_history",
    "parse_report",
]

_MAX_REPORT_BYTES = 256 * 1024 * 1024  # far above any real report; a bound on what is read into memory
_HINT = "give the report.json files written by 'regate run' or 'regate merge'"


@dataclass(frozen=True, slots=True)
class CheckPoint:
    """One threshold check of one gate in one report."""

    check_id: str
    expression: str
    status: CheckStatus
    observed: float | None  # in the unit of the expression (fraction for rates); None = no value
    observed_text: str
    summary: str


@dataclass(frozen=True, slots=True)
class GateRecord:
    """One gate of one report: its status, checks and how its runs ended."""

    name: str
    status: GateStatus
    blocking: bool  # False: a failure is only a warning (absent in older reports: blocking)
    reasons: tuple[str, ...]
    checks: tuple[CheckPoint, ...]
    run_outcomes: tuple[tuple[RunOutcome, int], ...]  # in ``RunOutcome`` order

    def check(self, check_id: str) -> CheckPoint | None:
        return next((c for c in self.checks if c.check_id == check_id), None)

    def runs(self, outcome: RunOutcome | None = None) -> int:
        return sum(n for o, n in self.run_outcomes if outcome is None or o is outcome)


@dataclass(frozen=True, slots=True)
class Report:
    """One ``report.json``: one run of one config."""

    source: str  # the path as given, for messages
    started_at: str  # as written, e.g. "2026-11-26T10:00:00Z"
    moment: datetime  # ``started_at`` parsed, timezone-aware (UTC)
    config_path: str
    status: VerdictStatus
    exit_code: int
    runner_errors: tuple[str, ...]
    gates: tuple[GateRecord, ...]

    def gate(self, name: str) -> GateRecord | None:
        return next((g for g in self.gates if g.name == name), None)


@dataclass(frozen=True, slots=True)
class History:
    """Reports oldest first, each run once; ``notes`` say which duplicate files were read only once."""

    reports: tuple[Report, ...]
    notes: tuple[str, ...] = ()

    @property
    def configs(self) -> tuple[str, ...]:
        """The config paths, in order of first appearance."""
        return tuple(dict.fromkeys(r.config_path for r in self.reports))


# --- parsing one report (pure) ---------------------------------------------------------------------------


class _Fields:
    """Typed access to one JSON object; every error names the file and the path of the field."""

    def __init__(self, value: object, source: str, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _error(source, path, f"expected an object, got {_kind(value)}")
        self._data: Mapping[str, Any] = value
        self._source = source
        self._path = path

    def _at(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str) -> object:
        if key not in self._data:
            raise _error(self._source, self._path or None, f"missing field '{key}'")
        return self._data[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise _error(self._source, self._at(key), f"expected a string, got {_kind(value)}")
        return clean_text(value)

    def optional_string(self, key: str) -> str | None:
        """A string, null, or absent (a field added to schema version 1 later, such as ``shard``)."""
        if self._data.get(key) is None:
            return None
        return self.string(key)

    def optional_bool(self, key: str, *, default: bool) -> bool:
        value = self._data.get(key, default)
        if not isinstance(value, bool):
            raise _error(self._source, self._at(key), f"expected true or false, got {_kind(value)}")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _error(self._source, self._at(key), f"expected a whole number, got {_kind(value)}")
        return value

    def number(self, key: str) -> float | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _error(self._source, self._at(key), f"expected a number or null, got {_kind(value)}")
        number = float(value)
        return number if math.isfinite(number) else None

    def objects(self, key: str) -> list[_Fields]:
        return [
            _Fields(item, self._source, f"{self._at(key)}[{i}]") for i, item in enumerate(self._list(key))
        ]

    def strings(self, key: str) -> tuple[str, ...]:
        cleaned: list[str] = []
        for i, item in enumerate(self._list(key)):
            if not isinstance(item, str):
                raise _error(self._source, f"{self._at(key)}[{i}]", f"expected a string, got {_kind(item)}")
            cleaned.append(clean_text(item))
        return tuple(cleaned)

    def choice(self, key: str, allowed: Iterable[StrEnum]) -> str:
        value = self.string(key)
        options = tuple(option.value for option in allowed)
        if value not in options:
            raise _error(
                self._source, self._at(key), f"unknown value {value!r} (expected one of {', '.join(options)})"
            )
        return value

    def child(self, key: str) -> _Fields:
        return _Fields(self._get(key), self._source, self._at(key))

    def _list(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list):
            raise _error(self._source, self._at(key), f"expected a list, got {_kind(value)}")
        return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _error(source: str, path: str | None, message: str, hint: str | None = _HINT) -> UsageError:
    where = f"{source}: {path}: " if path else f"{source}: "
    return UsageError(where + message, hint=hint)


def _moment(started_at: str, source: str) -> datetime:
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        raise _error(source, "started_at", f"not an ISO 8601 time: {started_at[:60]!r}", hint=None) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_report(text: str, source: str) -> Report:
    """Parse one ``report.json`` (``source`` names it in errors). Raises ``UsageError``."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise _error(source, None, f"not JSON{where}") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise _error(source, None, "not a regate report (no schema_version)")
    tool = document.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != TOOL_NAME:
        raise _error(source, None, "not a regate report (tool.name is not 'regate')")
    version = document["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise _error(
            source,
            None,
            f"schema_version {version!r} is not supported (this regate reads version {SCHEMA_VERSION})",
            hint="render the trend with the regate version that wrote the reports",
        )
    root = _Fields(document, source, "")
    shard = root.optional_string("shard")
    if shard is not None:
        raise _error(
            source,
            None,
            f"the report of shard {shard} holds only that shard's gates",
            hint="merge the shards first ('regate merge REPORT.json...') and give the merged report.json",
        )
    started_at = root.string("started_at")
    return Report(
        source=source,
        started_at=started_at,
        moment=_moment(started_at, source),
        config_path=root.string("config_path"),
        status=VerdictStatus(root.choice("status", VerdictStatus)),
        exit_code=root.integer("exit_code"),
        runner_errors=root.strings("runner_errors"),
        gates=tuple(_gate(gate) for gate in root.objects("gates")),
    )


def _gate(fields: _Fields) -> GateRecord:
    outcomes = fields.child("run_outcomes")
    return GateRecord(
        name=fields.string("name"),
        status=GateStatus(fields.choice("status", GateStatus)),
        blocking=fields.optional_bool("blocking", default=True),
        reasons=fields.strings("reasons"),
        checks=tuple(_check(check) for check in fields.objects("checks")),
        run_outcomes=tuple((outcome, outcomes.integer(outcome.value)) for outcome in RunOutcome),
    )


def _check(fields: _Fields) -> CheckPoint:
    return CheckPoint(
        check_id=fields.string("check_id"),
        expression=fields.string("expression"),
        status=CheckStatus(fields.choice("status", CheckStatus)),
        observed=fields.number("observed"),
        observed_text=fields.string("observed_text"),
        summary=fields.string("summary"),
    )


# --- a set of reports (pure) -----------------------------------------------------------------------------


def build_history(reports: Sequence[Report]) -> History:
    """Order ``reports`` by start time and keep each run once (see the module docstring). Raises
    ``UsageError`` for two different reports of the same run, and when there is no report at all."""
    if not reports:
        raise UsageError("no reports given", hint=_HINT)
    ordered = sorted(reports, key=lambda r: (r.moment, r.config_path, r.source))
    kept: dict[tuple[datetime, str], Report] = {}
    notes: list[str] = []
    for report in ordered:
        key = (report.moment, report.config_path)
        first = kept.get(key)
        if first is None:
            kept[key] = report
        elif replace(first, source="") == replace(report, source=""):
            again = "is given twice" if report.source == first.source else f"is the same as {first.source}"
            notes.append(f"{report.source} {again}: read once")
        else:
            raise UsageError(
                f"{first.source} and {report.source} are two different reports of the same run"
                f" ({report.config_path} started at {report.started_at})",
                hint="give each run's report.json once",
            )
    return History(tuple(kept.values()), tuple(notes))


# --- reading files ---------------------------------------------------------------------------------------

_GLOB_CHARACTERS = frozenset("*?[")


def expand_paths(arguments: Sequence[str]) -> list[Path]:
    """The report paths: each argument as given, or, if no such file exists and it holds ``* ? [``, the
    files its pattern matches (sorted), for a pattern the shell did not expand (quoted, or on Windows)."""
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.exists() or not _GLOB_CHARACTERS & set(argument):
            paths.append(path)
            continue
        anchor = Path(path.anchor) if path.is_absolute() else Path()
        relative = str(path.relative_to(anchor)) if path.is_absolute() else argument
        matches = sorted(p for p in anchor.glob(relative) if p.is_file())
        if not matches:
            raise UsageError(f"no file matches {argument}", hint=_HINT)
        paths.extend(matches)
    return paths


def read_report(path: Path) -> Report:
    """Read and parse one report file; a problem is a ``UsageError`` naming the file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_REPORT_BYTES + 1)
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a report file", hint=_HINT) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {(exc.strerror or type(exc).__name__).lower()}") from None
    if len(data) > _MAX_REPORT_BYTES:
        raise UsageError(f"{path} is larger than {_MAX_REPORT_BYTES // 2**20} MiB: not a regate report")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(str(path), None, "not UTF-8 text: not a regate report") from None
    return parse_report(text, str(path))


def load_history(arguments: Sequence[str]) -> History:
    """Read every report named in ``arguments`` (paths or patterns) into one ``History``."""
    return build_history([read_report(path) for path in expand_paths(arguments)])
