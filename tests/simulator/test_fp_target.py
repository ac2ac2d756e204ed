"""The example target (configs/examples/support_target.py) against the simulator's default Freeplay world."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fp_support import LATE, TARGET_PATH, FpApi, load_target


@pytest.fixture(scope="module")
def target():
    return load_target()


def protocol_input(case):
    """The JSON object regate gives a target for one test case (the target protocol)."""
    payload = {
        "test_case_id": case["test_case_id"],
        "kind": case["test_case_type"],
        "metadata": case["custom_metadata"],
    }
    if case["test_case_type"] == "trace":
        payload["input"] = case["input"]
    else:
        payload["variables"] = case["variables"]
        payload["history"] = case["history"] or []
    return payload


def gate_run(make_app, clock, target, dataset, *, regressed):
    fp = FpApi(make_app().app)
    run = fp.create(dataset)
    cases = run["test_cases"] or run["trace_test_cases"]
    answers = {
        c["test_case_id"]: target.answer(protocol_input(c), regressed=regressed)["output"] for c in cases
    }
    fp.record_answers(run["test_run_id"], cases, answers)
    clock.now = LATE
    detail = fp.run(run["test_run_id"])
    assert detail["status"] == "complete"
    return detail["summary_statistics"]["auto_evaluation"], len(cases)


@pytest.mark.parametrize("dataset", ["support-faq", "support-agent-traces"])
def test_good_target_passes_every_evaluation(make_app, clock, target, dataset):
    auto, n = gate_run(make_app, clock, target, dataset, regressed=False)
    assert auto == {
        "Answer Accuracy": {"pass": n, "fail": 0, "average_score": 1.0},
        "Helpfulness": {"5": n},
        "Faithfulness": {"yes": n},
        "Tone": 1.0,
    }


@pytest.mark.parametrize("dataset", ["support-faq", "support-agent-traces"])
def test_regressed_target_fails_clearly(make_app, clock, target, dataset):
    """Over half the answers are wrong: accuracy and faithfulness drop well below any sane threshold."""
    auto, n = gate_run(make_app, clock, target, dataset, regressed=True)
    accuracy = auto["Answer Accuracy"]
    assert accuracy["pass"] / n <= 0.5
    assert auto["Faithfulness"].get("no", 0) >= 2
    helpful = sum(int(label) * count for label, count in auto["Helpfulness"].items()) / n
    assert helpful < 3.5
    assert auto["Tone"] < 1.0 or dataset == "support-agent-traces"


def test_unknown_questions_are_not_answered(target):
    result = target.answer({"kind": "completion", "variables": {"question": "Can you sing?"}})
    assert result["eval_results"] == {"answered": False} and "not sure" in result["output"]


def _run(stdin, *args, env=None):
    return subprocess.run(
        [sys.executable, str(TARGET_PATH), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_target_runs_as_a_subprocess():
    """stdin: one JSON object; stdout: one JSON object with output and eval_results; exit 0."""
    case = {
        "test_case_id": "c1",
        "kind": "completion",
        "variables": {"question": "How long does a refund take?"},
    }
    done = _run(json.dumps(case), env={"SUPPORT_TARGET_MODE": ""})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "5 business days" in result["output"] and result["eval_results"] == {"answered": True}
    regressed = _run(json.dumps(case), "--text", env={"SUPPORT_TARGET_MODE": "regressed"})
    assert regressed.returncode == 0 and regressed.stdout == "Refunds are instant, usually within 24 hours.\n"
    broken = _run("not json")
    assert broken.returncode == 2 and "not JSON" in broken.stderr
