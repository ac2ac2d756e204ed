"""The Freeplay part of the world (contents, validation), its evaluation rules, and determinism by seed."""

from __future__ import annotations

import textwrap

import pytest
from fp_support import FAQ_SUITE, LATE, PROJECT, REGRESSED_SUITE, FpApi

from runner.errors import SimulatorError
from runner.simulator.freeplay_evals import Grade, aggregate, grade, message_text, output_text
from runner.simulator.freeplay_world import FpCase, FpCriterion
from runner.simulator.world import load_world


def test_default_world_freeplay_contents(world):
    fw = world.freeplay
    assert fw.projects[PROJECT].name == "Acme Support"
    faq = fw.datasets[(PROJECT, "support-faq")]
    traces = fw.datasets[(PROJECT, "support-agent-traces")]
    assert (faq.kind, traces.kind) == ("completion", "trace")
    assert 6 <= len(faq.cases) <= 10 and all(set(c.variables or {}) == {"question"} for c in faq.cases)
    assert all(c.input is not None and c.expected for c in traces.cases)
    assert {c.name: c.shape for c in fw.criteria.values()} == {
        "Answer Accuracy": "pass_fail",
        "Helpfulness": "histogram",
        "Faithfulness": "histogram",
        "Tone": "scalar",
    }
    assert fw.suites[FAQ_SUITE].quality == 1.0 > fw.suites[REGRESSED_SUITE].quality


def test_every_reference_answer_passes_every_criterion(world):
    """The world is consistent: each case's own answer passes every criterion with a top score."""
    fw = world.freeplay
    for dataset in fw.datasets.values():
        for case in dataset.cases:
            for name in dataset.criteria:
                g = grade(fw.criteria[name], case, case.answer)
                assert g.passed, (dataset.name, case.index, name)
            assert grade(fw.criteria["Helpfulness"], case, case.answer).score == 5.0


CASE = FpCase(
    id="x",
    index=0,
    variables={},
    input=None,
    answer="",
    expected=("30 days", "Store credit"),
    forbidden=("full refund",),
)


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        pytest.param(
            "keywords", "Within 30 DAYS, store credit.", Grade(1.0, True, "yes"), id="keywords-pass"
        ),
        pytest.param("keywords", "Within 30 days.", Grade(0.0, False, "no"), id="keywords-fail"),
        pytest.param(
            "scale",
            "30 days and store credit, explained at a comfortable length.",
            Grade(5.0, True, "5"),
            id="scale-5",
        ),
        pytest.param("scale", "30 days", Grade(3.0, False, "3"), id="scale-half-and-short"),
        pytest.param("forbidden", "A full refund!", Grade(0.0, False, "no"), id="forbidden-case-phrase"),
        pytest.param("forbidden", "I think so", Grade(0.0, False, "no"), id="forbidden-criterion-phrase"),
        pytest.param("penalty", "whatever, read the FAQ", Grade(0.5, False, "0.5"), id="penalty-two-hits"),
        pytest.param("penalty", "Happy to help", Grade(1.0, True, "1"), id="penalty-none"),
    ],
)
def test_evaluation_rules(rule, text, expected):
    criterion = FpCriterion(
        id="c",
        name="C",
        rule=rule,
        shape="pass_fail",
        phrases=("i think", "whatever", "read the faq") if rule != "scale" else (),
        pass_at={"scale": 4.0, "penalty": 0.75}.get(rule, 0.0),
        length=(40, 400),
    )
    assert grade(criterion, CASE, text) == expected


def test_output_and_message_text_extraction():
    assert message_text({"role": "assistant", "content": "plain"}) == "plain"
    assert (
        message_text({"content": [{"type": "text", "text": "a"}, {"type": "image"}, {"text": "b"}]}) == "a\nb"
    )
    assert message_text({"role": "model", "parts": [{"text": "vertex"}]}) == "vertex"
    assert message_text({"role": "tool"}) == ""
    assert output_text("s") == "s"
    assert output_text({"answer": {"text": "nested"}}) == "nested"
    assert output_text({"n": 1}) == '{"n": 1}'
    assert output_text(None) == "null"


def test_aggregate_shapes():
    grades = [Grade(1.0, True, "yes"), Grade(0.0, False, "no"), Grade(1.0, True, "yes")]
    assert aggregate("pass_fail", grades) == {"pass": 2, "fail": 1, "average_score": 0.6667}
    assert aggregate("histogram", grades) == {"no": 1, "yes": 2}
    assert aggregate("scalar", grades) == 0.6667
    numbers = [Grade(2.0, None, "2"), Grade(4.0, None, "4")]
    assert aggregate("pass_fail", numbers) == 3.0  # numbers have no pass/fail: the mean, as a scalar


def _world(tmp_path, freeplay: str):
    path = tmp_path / "world.yaml"
    path.write_text("freeplay:\n" + textwrap.indent(textwrap.dedent(freeplay), "  "), encoding="utf-8")
    return load_world(str(path))


GOOD = """\
projects: [{id: 11111111-1111-4111-8111-111111111111, name: P}]
criteria: [{id: 22222222-2222-4222-8222-222222222222, name: Acc, rule: keywords}]
datasets:
  - {name: d, project: 11111111-1111-4111-8111-111111111111, kind: completion,
     cases: [{variables: {q: x}, answer: fine, expected: [fine]}]}
suites:
  - {id: 33333333-3333-4333-8333-333333333333, name: s, project: 11111111-1111-4111-8111-111111111111,
     dataset: d, pass: {Acc: {pass_rate: 1}}}
"""


def test_a_minimal_freeplay_world_loads(tmp_path):
    fw = _world(tmp_path, GOOD).freeplay
    (dataset,) = fw.datasets.values()
    assert dataset.criteria == ("Acc",) and fw.criteria["Acc"].shape == "pass_fail"
    assert fw.suites["33333333-3333-4333-8333-333333333333"].thresholds == (("Acc", "pass_rate", 1.0),)
    assert load_world(None).freeplay.timing.evaluation == (3.0, 8.0)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "id: 11111111-1111-4111-8111-111111111111, name: P",
            "id: p1, name: P",
            "projects[0].id: must be a UUID",
            id="bad-uuid",
        ),
        pytest.param("rule: keywords", "rule: vibes", "criteria[0].rule: must be one of", id="bad-rule"),
        pytest.param(
            "rule: keywords}",
            "rule: keywords, shape: pie}",
            "criteria[0].shape: must be one of",
            id="bad-shape",
        ),
        pytest.param("kind: completion", "kind: chat", "datasets[0].kind: must be one of", id="bad-kind"),
        pytest.param(
            "dataset: d,",
            "dataset: nope,",
            "suites[0].dataset: no dataset named 'nope'",
            id="unknown-dataset",
        ),
        pytest.param(
            "{Acc: {pass_rate: 1}}",
            "{Nope: {pass_rate: 1}}",
            "no criterion named 'Nope'",
            id="unknown-criterion",
        ),
        pytest.param(
            "{Acc: {pass_rate: 1}}",
            "{Acc: {median: 1}}",
            "must be {pass_rate: R} or {average: X}",
            id="bad-measure",
        ),
        pytest.param("answer: fine,", "", "cases[0].answer: must be a string", id="missing-answer"),
        pytest.param("projects:", "colour: red\nprojects:", "freeplay.colour: unknown key", id="unknown-key"),
    ],
)
def test_broken_freeplay_worlds_name_the_key(tmp_path, old, new, message):
    assert old in GOOD
    with pytest.raises(SimulatorError) as info:
        _world(tmp_path, GOOD.replace(old, new))
    assert message in info.value.message


def _session(make_app, clock, seed):
    """The observable answers of one fixed sequence of requests."""
    clock.now = 0.0
    fp = FpApi(make_app(seed=seed).app)
    run = fp.create(include_outputs=True)
    fp.record_answers(
        run["test_run_id"], run["test_cases"], {c["test_case_id"]: c["output"] for c in run["test_cases"]}
    )
    execute = fp.call("POST", f"test-suites/{REGRESSED_SUITE}/runs/execute", {}).json()
    timeline = []
    for t in range(0, 30, 2):
        clock.now = float(t)
        timeline.append((fp.run(run["test_run_id"])["status"], fp.run(execute["run_id"])["sessions_count"]))
    clock.now = LATE
    path = f"test-suites/{REGRESSED_SUITE}/runs/{execute['run_id']}/results"
    return run["test_run_id"], timeline, fp.call("GET", path).json()


def test_same_seed_same_answers_other_seed_other_ids(make_app, clock):
    first, again, other = (_session(make_app, clock, s) for s in (3, 3, 4))
    assert first == again
    assert first[0] != other[0]
    assert first[2]["summary_statistics"] != other[2]["summary_statistics"] or first[1] != other[1]
