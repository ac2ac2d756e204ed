"""Reading report history for ``regate report``: regate's own report.json read back, ordered by start time,
each run once; anything else refused with one line that names the file and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.errors import UsageError
from runner.history import build_history, expand_paths, load_history, parse_report
from runner.model import CheckStatus, GateStatus

from .reporters import factories as f
from .reporters.trend_factories import checkout, night, report, report_text, verdict_of


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(report_text(verdict_of(checkout(0.95, 1500)), night(20)))
    document.update(changes)
    return document


def test_a_report_reads_back_with_its_gates_checks_and_run_counts() -> None:
    parsed = report(f.v_regression(), night(20), "r.json")
    assert (parsed.source, parsed.started_at, parsed.config_path) == (
        "r.json",
        night(20),
        "configs/nightly.yaml",
    )
    assert parsed.exit_code == 1 and parsed.status == "failed"
    assert [g.name for g in parsed.gates] == ["checkout-agent", "support-agent"]
    support = parsed.gate("support-agent")
    assert support is not None and support.status is GateStatus.FAILED
    latency = support.check("metric.Latency.p50")
    assert latency is not None
    assert (latency.status, latency.observed, latency.expression) == (
        CheckStatus.FAILED,
        3100.0,
        "p50 <= 2000",
    )
    assert support.runs() == 10 and support.blocking


def test_reports_are_ordered_by_start_time_not_by_argument_order() -> None:
    """A shell glob sorts 10.json before 9.json: the order given must not matter."""
    reports = [
        report(verdict_of(checkout(0.95, 1500)), night(day), f"{day}.json") for day in (23, 20, 22, 21)
    ]
    history = build_history(reports)
    assert [r.started_at for r in history.reports] == [night(20), night(21), night(22), night(23)]
    assert build_history(list(reversed(reports))) == history


def test_the_same_report_given_twice_is_read_once_with_a_note() -> None:
    """Two globs that overlap, or a copy kept as latest.json, are the same run: read once, said so."""
    verdict = verdict_of(checkout(0.95, 1500))
    a, b = report(verdict, night(20), "a.json"), report(verdict, night(20), "latest.json")
    history = build_history([a, b, a])
    assert [r.source for r in history.reports] == ["a.json"]
    assert history.notes == (
        "a.json is given twice: read once",
        "latest.json is the same as a.json: read once",
    )


def test_two_different_reports_of_the_same_run_are_refused() -> None:
    first = report(verdict_of(checkout(0.95, 1500)), night(20), "a.json")
    second = report(verdict_of(checkout(0.50, 1500)), night(20), "b.json")
    with pytest.raises(UsageError, match=r"a\.json and b\.json are two different reports of the same run"):
        build_history([first, second])
    other_config = report(verdict_of(checkout(0.50, 1500)), night(20), "c.json", config="configs/other.yaml")
    assert len(build_history([first, other_config]).reports) == 2  # same time, another pipeline: fine


def test_a_shard_report_is_refused_with_a_hint_to_merge_first() -> None:
    with pytest.raises(UsageError, match=r"s1\.json: the report of shard 1/3") as caught:
        parse_report(json.dumps(_document(shard="1/3")), "s1.json")
    assert caught.value.hint is not None and "regate merge" in caught.value.hint


def test_fields_added_to_schema_1_later_may_be_absent() -> None:
    """Reports written before sharding and non-blocking gates existed have no ``shard`` or ``blocking``."""
    document = _document()
    del document["shard"]
    for gate in document["gates"]:
        gate.pop("blocking", None)
    parsed = parse_report(json.dumps(document), "old.json")
    assert all(g.blocking for g in parsed.gates)


def test_non_finite_numbers_are_missing_values_and_strings_are_cleaned() -> None:
    document = _document()
    document["gates"][0]["name"] = "lone\ud800 surrogate \x1b[31mred"
    document["gates"][0]["checks"][0]["observed"] = float("nan")
    parsed = parse_report(json.dumps(document), "r.json")
    assert parsed.gates[0].name == "lone\\uD800 surrogate red"
    assert parsed.gates[0].checks[0].observed is None


def _set(path: str, value: object) -> dict[str, Any]:
    document = _document()
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return document


BAD = [
    pytest.param("{not json", "r.json: not JSON (line 1, column 2", id="not-json"),
    pytest.param("[]", "r.json: not a regate report (no schema_version)", id="a-list"),
    pytest.param('{"tests": []}', "r.json: not a regate report (no schema_version)", id="other-json"),
    pytest.param(
        json.dumps(_set("tool.name", "pytest")), "r.json: not a regate report (tool.name", id="other-tool"
    ),
    pytest.param(
        json.dumps(_set("schema_version", 2)),
        "r.json: schema_version 2 is not supported (this regate reads version 1)",
        id="newer-schema",
    ),
    pytest.param(
        json.dumps(_set("started_at", KeyError)), "r.json: missing field 'started_at'", id="no-start"
    ),
    pytest.param(
        json.dumps(_set("started_at", "last tuesday")),
        "r.json: started_at: not an ISO 8601 time: 'last tuesday'",
        id="bad-start",
    ),
    pytest.param(
        json.dumps(_set("gates.0.checks.1.status", None)),
        "r.json: gates[0].checks[1].status: expected a string, got null",
        id="null-status",
    ),
    pytest.param(
        json.dumps(_set("gates.0.status", "exploded")),
        "r.json: gates[0].status: unknown value 'exploded' (expected one of passed, failed, error)",
        id="unknown-status",
    ),
    pytest.param(
        json.dumps(_set("gates.0.checks.0.observed", "95%")),
        "r.json: gates[0].checks[0].observed: expected a number or null, got a string",
        id="observed-string",
    ),
    pytest.param(
        json.dumps(_set("gates.0.run_outcomes", KeyError)),
        "r.json: gates[0]: missing field 'run_outcomes'",
        id="no-run-outcomes",
    ),
    pytest.param(
        json.dumps(_set("gates", {})), "r.json: gates: expected a list, got an object", id="gates-map"
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input_is_a_one_line_usage_error_naming_the_file_and_the_field(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_report(text, "r.json")
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message


def test_files_are_read_from_paths_and_quoted_globs(tmp_path: Path) -> None:
    for day in (20, 21, 22):
        folder = tmp_path / f"night-{day}"
        folder.mkdir()
        (folder / "report.json").write_text(
            report_text(verdict_of(checkout(0.95, 1500)), night(day)), "utf-8"
        )
    pattern = str(tmp_path / "night-*" / "report.json")
    assert len(expand_paths([pattern])) == 3
    history = load_history([pattern, str(tmp_path / "night-20" / "report.json")])
    assert len(history.reports) == 3 and len(history.notes) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.json", None, "cannot read {path}: no such file or directory", id="missing"),
        pytest.param("folder", "dir", "{path} is a folder, not a report file", id="folder"),
        pytest.param("latin1.json", b"\xff\xfe{}", "{path}: not UTF-8 text", id="not-utf8"),
        pytest.param("nomatch-*.json", None, "no file matches {path}", id="glob-without-match"),
    ],
)
def test_files_that_cannot_be_read_are_named(
    tmp_path: Path, name: str, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        load_history([str(path)])
    assert caught.value.message.startswith(message.format(path=path)), caught.value.message


def test_no_report_at_all_is_an_error() -> None:
    with pytest.raises(UsageError, match="no reports given"):
        build_history([])
