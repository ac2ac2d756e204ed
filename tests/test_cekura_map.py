"""Mapping Cekura result JSON to the neutral model, defensively (api-contracts §A4-§A7, Part C)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ProtocolError
from runner.model import MetricKind
from runner.providers import cekura_map
from runner.providers.cekura_map import RunMemo, map_metric, map_result, normalise_success_rate


@pytest.mark.parametrize(
    ("raw", "success", "total", "rate", "anomaly"),
    [
        pytest.param(90.0, 9, 10, 0.9, False, id="percent-matches-counts"),
        pytest.param(0.9, 9, 10, 0.9, False, id="fraction-matching-counts-is-accepted"),
        pytest.param(1.0, 10, 10, 1.0, False, id="one-with-all-passed-is-a-fraction"),
        pytest.param(1.0, 1, 100, 0.01, False, id="one-percent"),
        pytest.param(50.0, 9, 10, 0.9, True, id="contradiction-prefers-counts-and-flags"),
        pytest.param(150.0, 9, 10, 0.9, True, id="out-of-range"),
        pytest.param(80.0, None, None, 0.8, False, id="percent-without-counts"),
        pytest.param(None, 3, 4, 0.75, False, id="missing-rate-uses-counts"),
        pytest.param("66.7", 2, 3, 2 / 3, False, id="string-rate-is-coerced"),
        pytest.param(None, None, None, None, False, id="nothing-known"),
    ],
)
def test_success_rate_is_normalised_to_a_fraction(
    raw: object, success: int | None, total: int | None, rate: float | None, anomaly: bool
) -> None:
    """§C-1: percent on the wire, fraction inside; counts win; contradictions are flagged, never smoothed."""
    value, problem = normalise_success_rate(raw, success, total)
    assert value == pytest.approx(rate) if rate is not None else value is None
    assert (problem is not None) is anomaly


@pytest.mark.parametrize(
    ("item", "kind", "score", "passed", "label"),
    [
        pytest.param(
            {"id": 1, "name": "A", "type": "binary_workflow_adherence", "score": 5},
            MetricKind.BINARY,
            1.0,
            True,
            None,
            id="legacy-binary-pass",
        ),
        pytest.param(
            {"id": 1, "name": "A", "type": "binary_qualitative", "score": 0},
            MetricKind.BINARY,
            0.0,
            False,
            None,
            id="legacy-binary-fail",
        ),
        pytest.param(
            {
                "id": 2,
                "name": "B",
                "eval_type": "binary",
                "passed": False,
                "type": "binary_qualitative",
                "score": 5,
            },
            MetricKind.BINARY,
            0.0,
            False,
            None,
            id="new-style-passed-wins",
        ),
        pytest.param(
            {"id": 2, "name": "B", "type": "binary", "score_normalized": 0},
            MetricKind.BINARY,
            0.0,
            False,
            None,
            id="score-normalized-zero-fails",
        ),
        pytest.param(
            {"id": 2, "name": "B", "type": "binary"},
            MetricKind.BINARY,
            None,
            None,
            None,
            id="binary-without-value-is-missing",
        ),
        pytest.param(
            {"id": 3, "name": "C", "type": "continuous_qualitative", "score": 3.5},
            MetricKind.CONTINUOUS,
            3.5,
            None,
            None,
            id="continuous",
        ),
        pytest.param(
            {"id": 4, "name": "Latency", "type": "numeric", "score": "812"},
            MetricKind.NUMERIC,
            812.0,
            None,
            None,
            id="numeric-string-coerced",
        ),
        pytest.param(
            {"id": 5, "name": "S", "type": "enum", "enum": "positive"},
            MetricKind.ENUM,
            None,
            None,
            "positive",
            id="enum-label",
        ),
        pytest.param(
            {"id": 6, "name": "X", "type": "sparkles", "score": 1},
            MetricKind.UNKNOWN,
            1.0,
            None,
            None,
            id="unknown-type",
        ),
    ],
)
def test_metric_types_are_normalised(
    item: dict[str, Any], kind: MetricKind, score: float | None, passed: bool | None, label: str | None
) -> None:
    """§C-12: both binary styles, continuous 0-5, numeric raw, enum label; unknown types stay unknown."""
    metric = map_metric(item)
    assert metric is not None
    assert (metric.kind, metric.score, metric.passed, metric.label) == (kind, score, passed, label)


def _result(**overrides: Any) -> dict[str, Any]:
    run_ok = {"id": 11, "status": "completed", "success": True, "scenario": 1, "scenario_name": "Refund",
              "personality_name": "Calm", "duration": "01:05", "evaluation": {"metrics": []}}  # fmt: skip
    run_bad = {"id": 12, "status": "COMPLETED", "success": False, "scenario": 2, "scenario_name": "Billing",
               "expected_outcome": {"score": 40, "explanation": ["✅ greeted", "❌ no refund offered"]},
               "evaluation": {"metrics": [{"id": 7, "name": "Policy", "type": "binary_qualitative",
                                           "score": 0, "explanation": "skipped the ID check"}]}}  # fmt: skip
    run_infra = {"id": 13, "status": "failed", "success": False, "scenario": 3, "error_message": "no answer"}
    data: dict[str, Any] = {
        "id": 167, "status": "completed", "name": "regate smoke abc", "success_rate": 33.33,
        "total_runs_count": 3, "success_runs_count": 1, "completed_runs_count": 3, "failed_runs_count": 2,
        "runs": {"1": run_ok, "2": run_bad, "x": run_infra}, "failed_infrastructure_runs": [13],
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_result_detail_maps_runs_from_map_values_with_reasons() -> None:
    """§C-11: runs come from map values and their own ids; statuses are lowercased; reasons are collected."""
    snapshot = map_result(_result())
    assert (snapshot.result_id, snapshot.status, snapshot.terminal, snapshot.succeeded) == (
        "167", "completed", True, True,
    )  # fmt: skip
    assert snapshot.success_rate == pytest.approx(1 / 3)
    assert snapshot.anomalies == ()
    runs = {run.run_id: run for run in snapshot.runs}
    assert set(runs) == {"11", "12", "13"}
    assert runs["11"].duration_s == 65.0 and runs["11"].personality == "Calm"
    assert runs["12"].status == "completed" and runs["12"].success is False and not runs["12"].infra_error
    assert runs["12"].reasons == (
        "expected outcome not met (score 40/100): ❌ no refund offered",
        "metric 'Policy' failed: skipped the ID check",
    )
    assert runs["13"].infra_error and runs["13"].reasons == ("error: no answer",)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"status": "Exploded"}, "unknown result status 'exploded'", id="unknown-status"),
        pytest.param({"status": None}, "the result has no status", id="no-status"),
        pytest.param(
            {"total_runs_count": "many"}, "total_runs_count 'many' is not an integer", id="bad-count"
        ),
        pytest.param({"runs": None}, "the result has no 'runs'", id="terminal-without-runs"),
        pytest.param({"success_rate": 90}, "contradicts", id="rate-vs-counts"),
    ],
)
def test_contradictions_become_anomalies_not_guesses(overrides: dict[str, Any], expected: str) -> None:
    """Data that cannot be trusted is flagged so the gate fails closed (inconclusive), never passes."""
    snapshot = map_result(_result(**overrides))
    assert any(expected in anomaly for anomaly in snapshot.anomalies)


@pytest.mark.parametrize("data", [[], "x", {"status": "completed"}, {"id": "abc"}], ids=str)
def test_a_body_that_is_no_result_is_a_protocol_error(data: object) -> None:
    with pytest.raises(ProtocolError):
        map_result(data)


def test_the_list_and_start_shapes_with_runs_as_an_array_are_accepted() -> None:
    snapshot = map_result({"id": 5, "status": "PENDING", "runs": [{"id": 1, "status": "pending"}]})
    assert snapshot.status == "pending" and not snapshot.terminal and len(snapshot.runs) == 1


def test_only_runs_that_did_not_pass_keep_their_transcript() -> None:
    """The reports show transcripts of failed runs only: a passed run's is dropped at mapping time, so
    1,000 results of 100 runs do not hold 100,000 transcripts in memory."""
    data = _result()
    for run in data["runs"].values():
        run["transcript"] = "Agent: hello\nCaller: " + "words " * 2000
    runs = {run.run_id: run for run in map_result(data).runs}
    assert runs["11"].transcript is None  # passed
    bad, infra = runs["12"].transcript, runs["13"].transcript
    assert bad is not None and infra is not None and len(bad) < 2100 and "characters omitted" in bad


def test_a_passed_run_keeps_its_metric_values_but_not_their_explanations() -> None:
    data = _result()
    data["runs"]["1"]["evaluation"]["metrics"] = [
        {
            "id": 9,
            "name": "Tone",
            "type": "binary_qualitative",
            "score": 5,
            "explanation": "polite throughout",
        }
    ]
    runs = {run.run_id: run for run in map_result(data).runs}
    (tone,) = runs["11"].metrics
    assert tone.passed is True and tone.explanation == ""  # passed run: the value stays, the text goes
    (policy,) = runs["12"].metrics
    assert policy.explanation == "skipped the ID check"  # failed run: every explanation stays


def _running(**overrides: Any) -> dict[str, Any]:
    data = _result(status="running", completed_runs_count=2)
    data.update(overrides)
    return data


def test_a_poll_reuses_the_runs_it_already_mapped_in_a_terminal_status() -> None:
    """While a result runs, a finished run's record is reused from the memo (mapping every run of every
    poll was most of the CPU at 1,000 results); runs that are not finished are mapped on every poll."""
    memo = RunMemo()
    data = _running()
    data["runs"]["y"] = {"id": 14, "status": "in_progress", "scenario_name": "S"}
    first = {run.run_id: run for run in map_result(data, memo=memo).runs}
    second = {run.run_id: run for run in map_result(_copy(data), memo=memo).runs}
    assert second["11"] is first["11"] and second["12"] is first["12"] and second["13"] is first["13"]
    assert second["14"] is not first["14"] and second["14"] == first["14"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["runs"]["1"].update(success=False), id="success-changed"),
        pytest.param(lambda d: d["runs"]["1"].update(status="failed"), id="status-changed"),
        pytest.param(lambda d: d["runs"]["1"].update(error_message="dropped"), id="error-appeared"),
        pytest.param(lambda d: d.update(failed_infrastructure_runs=[11, 13]), id="now-an-infra-failure"),
        pytest.param(lambda d: d.update(not_connected_runs=[12]), id="now-not-connected"),
    ],
)
def test_a_run_whose_outcome_fields_changed_is_mapped_again(change: Any) -> None:
    memo = RunMemo()
    data = _running()
    before = {run.run_id: run for run in map_result(data, memo=memo).runs}
    changed = _copy(data)
    change(changed)
    after = {run.run_id: run for run in map_result(changed, memo=memo).runs}
    assert after == {run.run_id: run for run in map_result(changed).runs}  # as if mapped afresh
    assert any(after[key] is not before[key] for key in after)


def test_the_terminal_poll_maps_every_run_afresh() -> None:
    """The verdict never rests on a reused record: a metric rescored after the run finished (not in the
    memo's fingerprint) is read from the terminal poll."""
    memo = RunMemo()
    running = _running()
    before = {run.run_id: run for run in map_result(running, memo=memo).runs}
    done = _copy(running)
    done.update(status="completed", completed_runs_count=3)
    done["runs"]["2"]["evaluation"]["metrics"][0]["explanation"] = "rescored: the ID check was skipped twice"
    after = {run.run_id: run for run in map_result(done, memo=memo).runs}
    assert all(after[key] is not before[key] for key in after)
    assert after["12"].metrics[0].explanation == "rescored: the ID check was skipped twice"


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 5, -1, 0.0, -0.0, 1.0, 5.0, 4.5, 2]),
    st.floats(min_value=-10, max_value=10, allow_nan=False),
    st.sampled_from(["binary", "binary_qualitative", "enum", "continuous_qualitative", "numeric", "x",
                     "positive", "5", "1", "true", " Tone "]),
    st.lists(st.integers(), max_size=1),
)  # fmt: skip
_ITEM = st.dictionaries(
    st.sampled_from(["eval_type", "type", "id", "name", "passed", "score_normalized", "score", "value",
                     "enum", "explanation"]),
    _SCALAR,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_ITEM, min_size=1, max_size=20))
def test_a_memoised_metric_maps_as_the_item_itself_does(items: list[dict[str, Any]]) -> None:
    """Passed runs' metric items are mapped once per distinct content: whatever came before, an item maps
    to a value equal to its own mapping, with the same field types (True is not 1 to the mapping)."""
    cekura_map._memo.clear()
    for item in items:
        found = map_metric(item, keep_text=False)
        fresh = cekura_map._metric(item, False)
        assert found == fresh
        assert found is not None and fresh is not None
        for field in ("metric_id", "name", "kind", "score", "passed", "label", "explanation"):
            assert type(getattr(found, field)) is type(getattr(fresh, field)), field
        if fresh.kind in (MetricKind.NUMERIC, MetricKind.UNKNOWN):  # never shared: not even 0.0 and -0.0
            assert repr(found) == repr(fresh)


def test_alike_metric_items_map_to_one_value_and_numeric_ones_are_not_kept() -> None:
    cekura_map._memo.clear()
    passed = {"id": 501, "name": "Policy", "eval_type": "binary", "passed": True, "explanation": "met"}
    first = map_metric(dict(passed), keep_text=False)
    assert map_metric(dict(passed, explanation="other words"), keep_text=False) is first
    assert map_metric(dict(passed, passed=1), keep_text=False) != first  # 1 is not True here
    latency = {"id": 9, "name": "Latency", "eval_type": "numeric", "value": 812.0}
    map_metric(latency, keep_text=False)
    assert all(key[1][0] != "numeric" for key in cekura_map._memo)
    kept = map_metric(dict(passed, passed=False, explanation="why"))  # a failed run keeps its explanation
    assert kept is not None and kept.explanation == "why"


def test_a_metric_of_unknown_kind_is_never_conflated_with_another() -> None:
    cekura_map._memo.clear()
    zero = {"id": 3, "name": "Odd", "eval_type": "mystery", "score": 0.0}
    assert repr(map_metric(zero, keep_text=False)) == repr(cekura_map._metric(zero, False))
    minus = dict(zero, score=-0.0)
    assert repr(map_metric(minus, keep_text=False)) == repr(cekura_map._metric(minus, False))
