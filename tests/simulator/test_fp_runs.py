"""Freeplay test runs in the simulator: create, test cases, recordings, status, summary_statistics."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fp_support import ACCURACY_ID, LATE, TONE_ID, FpApi, new_id

COMPLETION_KEYS = {
    "test_case_id",
    "variables",
    "output_message",
    "history",
    "custom_metadata",
    "media_variables",
    "test_case_type",
}
TRACE_KEYS = {"test_case_id", "input", "output", "custom_metadata", "test_case_type"}
RUN_KEYS = {"id", "name", "description", "status", "created_at", "sessions_count", "summary_statistics"}


@pytest.fixture
def fp(make_app):
    return FpApi(make_app().app)


def fp_with(make_app, world, **changes):
    """An FpApi over the default world with ``freeplay`` fields (or criteria by name) replaced."""
    fw = world.freeplay
    criteria = dict(fw.criteria)
    for name, shape in changes.pop("shapes", {}).items():
        criteria[name] = replace(criteria[name], shape=shape)
    return FpApi(make_app(app_world=replace(world, freeplay=replace(fw, criteria=criteria, **changes))).app)


def references(run):
    return {c["test_case_id"]: c["output"] for c in run["test_cases"] or run["trace_test_cases"]}


# -- create ----------------------------------------------------------------------------------------------


def test_create_returns_completion_cases_with_sdk_keys(fp):
    """201 with test_run_id/name/description and both case lists; completion cases carry the SDK keys
    (no stored output without include_outputs) and never the hidden expected keywords."""
    run = fp.create(test_run_name="nightly", test_run_description="main@abc123")
    assert (run["test_run_name"], run["test_run_description"]) == ("nightly", "main@abc123")
    assert run["trace_test_cases"] == [] and len(run["test_cases"]) == 9
    for case in run["test_cases"]:
        assert set(case) == COMPLETION_KEYS
        assert case["test_case_type"] == "completion" and case["output_message"] is None
        assert set(case["variables"]) == {"question"}
    with_history = [c for c in run["test_cases"] if c["history"]]
    assert len(with_history) == 1 and with_history[0]["history"][0]["role"] == "user"
    assert "expected" not in str(run) and "forbidden" not in str(run)


def test_include_outputs_adds_the_stored_output(fp):
    run = fp.create(include_outputs=True)
    for case in run["test_cases"]:
        assert case["output"] and case["output_message"]["content"][0]["text"] == case["output"]


def test_trace_dataset_returns_trace_cases(fp):
    run = fp.create("support-agent-traces")
    assert run["test_cases"] == [] and len(run["trace_test_cases"]) == 5
    for case in run["trace_test_cases"]:
        assert set(case) == TRACE_KEYS and case["test_case_type"] == "trace" and case["output"] is None
    assert {"message": "Where is my order?", "order_id": "7730"} in [
        c["input"] for c in run["trace_test_cases"]
    ]


def test_doc_aliases_add_the_documented_keys(make_app, world):
    """With doc_aliases the documented id/values/metadata keys ride along (§C-14)."""
    case = fp_with(make_app, world, doc_aliases=True).create()["test_cases"][0]
    assert case["id"] == case["test_case_id"] and case["values"] == case["variables"]
    assert case["metadata"] == case["custom_metadata"]


def test_case_ids_are_stable_across_runs(fp):
    """Test case ids are the dataset's: two runs of one dataset hand out the same ids, in order."""
    first, second = fp.create(), fp.create()
    assert first["test_run_id"] != second["test_run_id"]
    assert [c["test_case_id"] for c in first["test_cases"]] == [
        c["test_case_id"] for c in second["test_cases"]
    ]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param({}, 400, "dataset_name is required", id="missing-dataset-name"),
        pytest.param({"dataset_name": ""}, 400, "dataset_name is required", id="blank-dataset-name"),
        pytest.param({"dataset_name": "nope"}, 404, "Dataset 'nope' not found", id="unknown-dataset"),
        pytest.param(
            {"dataset_name": "support-faq", "include_outputs": "yes"},
            400,
            "include_outputs must be a boolean",
            id="bad-include-outputs",
        ),
        pytest.param(
            {"dataset_name": "support-faq", "target_evaluation_ids": [new_id()]},
            400,
            "not found",
            id="unknown-evaluation",
        ),
        pytest.param(
            {"dataset_name": "support-faq", "target_evaluation_ids": "x"},
            400,
            "target_evaluation_ids must be",
            id="evaluations-not-a-list",
        ),
    ],
)
def test_create_rejects_bad_requests(fp, body, status, message):
    response = fp.call("POST", "test-runs", body)
    assert response.status == status
    assert message in response.json()["message"]


# -- recordings ------------------------------------------------------------------------------------------


def test_recording_is_idempotent_by_id(fp, clock):
    """The same completion id recorded twice is one recording (its latest content); a new id is another."""
    run = fp.create()
    run_id, case_id = run["test_run_id"], run["test_cases"][0]["test_case_id"]
    cid, session = new_id(), new_id()
    for text in ("first try", "Refunds go back to your original payment method within 5 business days."):
        response = fp.complete(run_id, case_id, text, completion_id=cid, session_id=session)
        assert (response.status, response.json()) == (201, {"completion_id": cid})
    clock.now = LATE
    detail = fp.run(run_id)
    assert detail["sessions_count"] == 1
    assert detail["summary_statistics"]["auto_evaluation"]["Answer Accuracy"]["pass"] == 1
    fp.complete(run_id, case_id, "again", session_id=new_id())
    clock.now = 2 * LATE
    assert fp.run(run_id)["sessions_count"] == 2


def test_trace_recording_is_idempotent_by_trace_id(fp, clock):
    run = fp.create("support-agent-traces")
    run_id, case_id = run["test_run_id"], run["trace_test_cases"][0]["test_case_id"]
    trace_id, session = new_id(), new_id()
    for _ in range(2):
        response = fp.trace(run_id, case_id, {"answer": "ok"}, trace_id=trace_id, session_id=session)
        assert (response.status, response.json()) == (201, {"trace_id": trace_id})
    clock.now = LATE
    assert fp.run(run_id)["sessions_count"] == 1


def test_recording_errors(fp):
    """400s: a case not in the run, an unknown run, the wrong kind, missing messages/input/output."""
    faq, traces = fp.create(), fp.create("support-agent-traces")
    faq_case = faq["test_cases"][0]["test_case_id"]
    trace_case = traces["trace_test_cases"][0]["test_case_id"]
    cases = [
        (fp.complete(faq["test_run_id"], trace_case, "x"), "is not part of test run"),
        (fp.complete(new_id(), faq_case, "x"), "not found"),
        (fp.complete(traces["test_run_id"], trace_case, "x"), "record it as a trace"),
        (fp.trace(faq["test_run_id"], faq_case, "x"), "record it as a completion"),
        (fp.call("POST", f"sessions/{new_id()}/completions", {"messages": []}), "messages is required"),
        (fp.call("POST", f"sessions/{new_id()}/traces/id/{new_id()}", {"input": "q"}), "output is required"),
        (fp.complete(faq["test_run_id"], faq_case, "x", completion_id="c-1"), "Completion ID c-1"),
        (fp.complete(faq["test_run_id"], faq_case, "x", eval_results={"n": "high"}), "eval_results.n"),
    ]
    for response, message in cases:
        assert response.status == 400, response.body
        assert message in response.json()["message"]


def test_recordings_without_a_test_run_are_accepted(fp):
    """A plain completion (no test_run_info) is recorded but belongs to no test run; its id can be updated."""
    response = fp.call(
        "POST", f"sessions/{new_id()}/completions", {"messages": [{"role": "user", "content": "hi"}]}
    )
    cid = response.json()["completion_id"]
    assert response.status == 201
    assert fp.call("POST", f"completions/{cid}", {"eval_results": {"ok": True}}).status == 200
    assert fp.call("POST", f"completions/{new_id()}", {}).status == 404


def test_updates_change_the_evaluated_output_and_client_evals(fp, clock):
    """POST completions/{id} (new_messages) and PATCH traces replace the text and merge eval_results."""
    run = fp.create()
    run_id, case_id = run["test_run_id"], run["test_cases"][0]["test_case_id"]
    cid = new_id()
    fp.complete(run_id, case_id, "wrong", completion_id=cid, eval_results={"a": True})
    good = "Refunds go back to your original payment method within 5 business days of the return."
    body = {
        "new_messages": [{"role": "assistant", "content": [{"type": "text", "text": good}]}],
        "eval_results": {"b": 2},
    }
    assert fp.call("POST", f"completions/{cid}", body).status == 200
    clock.now = LATE
    stats = fp.run(run_id)["summary_statistics"]
    assert stats["auto_evaluation"]["Answer Accuracy"]["pass"] == 1
    assert stats["client_evaluation"] == {"a": {"pass": 1, "fail": 0, "average_score": 1.0}, "b": 2.0}

    traces = fp.create("support-agent-traces")
    tid, session = new_id(), new_id()
    fp.trace(
        traces["test_run_id"],
        traces["trace_test_cases"][1]["test_case_id"],
        "?",
        trace_id=tid,
        session_id=session,
    )
    path = f"sessions/{session}/traces/id/{tid}"
    assert fp.call("PATCH", path, {}).status == 400
    patched = fp.call(
        "PATCH", path, {"output": "duplicate charge on 5521: dispute opened", "eval_results": {"c": False}}
    )
    assert patched.status == 200
    clock.now = 2 * LATE
    trace_stats = fp.run(traces["test_run_id"])["summary_statistics"]
    assert trace_stats["auto_evaluation"]["Answer Accuracy"]["pass"] == 1
    assert trace_stats["client_evaluation"]["c"] == {"pass": 0, "fail": 1, "average_score": 0.0}
    assert fp.call("PATCH", f"sessions/{session}/traces/id/{new_id()}", {"feedback": "x"}).status == 404


# -- status and summary ----------------------------------------------------------------------------------


def test_status_progresses_after_every_case_is_recorded_and_evaluated(fp, clock):
    """in-progress while cases are unrecorded, and for the evaluation delay after the last one; then complete.
    Auto evaluations appear recording by recording as their evaluations finish."""
    run = fp.create(include_outputs=True)
    run_id, answers = run["test_run_id"], references(run)
    cases = run["test_cases"]
    fp.record_answers(run_id, cases[:-1], answers)
    clock.now = LATE
    partial = fp.run(run_id)
    assert partial["status"] == "in-progress"
    assert partial["summary_statistics"]["auto_evaluation"]["Answer Accuracy"]["pass"] == len(cases) - 1
    fp.record_answers(run_id, cases[-1:], answers)
    seen = []
    for step in range(0, 12):
        clock.now = LATE + step
        seen.append(fp.run(run_id)["status"])
    assert seen[0] == "in-progress" and seen[-1] == "complete"
    assert seen.index("complete") >= 3  # the world's evaluation delay is 3-8 s
    assert seen == sorted(seen, key=lambda s: s == "complete")  # never goes back
    detail = fp.run(run_id)
    assert set(detail) >= RUN_KEYS and detail["id"] == run_id == detail["test_run_id"]
    assert detail["sessions_count"] == len(cases)


def test_summary_statistics_shapes_of_the_default_world(fp, clock):
    """Default world: Answer Accuracy pass/fail (a), Helpfulness and Faithfulness histograms (b), Tone
    scalar (c); all three keys always present."""
    run = fp.create(include_outputs=True)
    empty = fp.run(run["test_run_id"])["summary_statistics"]
    assert empty == {"auto_evaluation": {}, "human_evaluation": {}, "client_evaluation": {}}
    fp.record_answers(run["test_run_id"], run["test_cases"], references(run))
    clock.now = LATE
    stats = fp.run(run["test_run_id"])["summary_statistics"]
    assert stats["auto_evaluation"] == {
        "Answer Accuracy": {"pass": 9, "fail": 0, "average_score": 1.0},
        "Helpfulness": {"5": 9},
        "Faithfulness": {"yes": 9},
        "Tone": 1.0,
    }
    assert stats["human_evaluation"] == {} and stats["client_evaluation"] == {}


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        pytest.param("pass_fail", {"pass": 1, "fail": 2, "average_score": 0.3333}, id="a-pass-fail"),
        pytest.param("histogram", {"no": 2, "yes": 1}, id="b-histogram"),
        pytest.param("scalar", 0.3333, id="c-scalar"),
    ],
)
def test_each_criterion_shape_is_selectable(make_app, world, clock, shape, expected):
    fp = fp_with(make_app, world, shapes={"Answer Accuracy": shape})
    run = fp.create(include_outputs=True)
    cases = run["test_cases"][:3]
    answers = {c["test_case_id"]: "no idea" for c in cases} | {cases[0]["test_case_id"]: cases[0]["output"]}
    fp.record_answers(run["test_run_id"], cases, answers)
    clock.now = LATE
    assert fp.run(run["test_run_id"])["summary_statistics"]["auto_evaluation"]["Answer Accuracy"] == expected


def test_client_evaluation_aggregates_eval_results(make_app, world, clock):
    """Booleans count pass/fail, numbers average; the client shape is configurable too."""
    fp = FpApi(make_app().app)
    run = fp.create()
    for i, case in enumerate(run["test_cases"][:4]):
        evals = {"answered": i != 3, "latency_ms": 100.0 * (i + 1)}
        assert fp.complete(run["test_run_id"], case["test_case_id"], "x", eval_results=evals).status == 201
    client = fp.run(run["test_run_id"])["summary_statistics"]["client_evaluation"]
    assert client == {"answered": {"pass": 3, "fail": 1, "average_score": 0.75}, "latency_ms": 250.0}
    hist = fp_with(make_app, world, client_shape="histogram")
    run = hist.create()
    for case in run["test_cases"][:3]:
        hist.complete(run["test_run_id"], case["test_case_id"], "x", eval_results={"answered": True})
    assert hist.run(run["test_run_id"])["summary_statistics"]["client_evaluation"] == {"answered": {"yes": 3}}


def test_target_evaluation_ids_restrict_the_criteria(fp, clock):
    run = fp.create(include_outputs=True, target_evaluation_ids=[ACCURACY_ID, TONE_ID.upper()])
    fp.record_answers(run["test_run_id"], run["test_cases"], references(run))
    clock.now = LATE
    auto = fp.run(run["test_run_id"])["summary_statistics"]["auto_evaluation"]
    assert set(auto) == {"Answer Accuracy", "Tone"}


def test_messages_in_every_provider_format_are_read(fp, clock):
    """The last message's text is found in simple, OpenAI/Anthropic block and Vertex parts formats."""
    run = fp.create(include_outputs=True)
    case = run["test_cases"][0]
    good = case["output"]
    formats = [
        {"role": "assistant", "content": good},
        {"role": "assistant", "content": [{"type": "text", "text": good}]},
        {"role": "model", "parts": [{"text": good}]},
    ]
    for message in formats:
        body = {
            "messages": [message],
            "test_run_info": {"test_run_id": run["test_run_id"], "test_case_id": case["test_case_id"]},
        }
        assert fp.call("POST", f"sessions/{new_id()}/completions", body).status == 201
    clock.now = LATE
    accuracy = fp.run(run["test_run_id"])["summary_statistics"]["auto_evaluation"]["Answer Accuracy"]
    assert accuracy == {"pass": 3, "fail": 0, "average_score": 1.0}
