"""The fault spec grammar and the deterministic decision engine (runner.simulator.faults)."""

from __future__ import annotations

import math

import pytest

from runner.errors import UsageError
from runner.simulator.faults import Fault, FaultInjector, FaultKind, parse_faults

VALID = [
    pytest.param(
        "results:429=2@0.3", ("results", "429", "2", 0.3, None), id="429-with-retry-after-by-probability"
    ),
    pytest.param("results:503@#2", ("results", "503", None, None, (2, 2)), id="5xx-on-one-request"),
    pytest.param("start:drop@#1", ("start", "drop", None, None, (1, 1)), id="drop-first-start"),
    pytest.param("results:reset@#3-4", ("results", "reset", None, None, (3, 4)), id="reset-range"),
    pytest.param("runs:slow=12@#2-", ("runs", "slow", "12", None, (2, math.inf)), id="open-range"),
    pytest.param(
        "list:missing=count@25%", ("list", "missing", "count", 0.25, None), id="percent-probability"
    ),
    pytest.param(
        " * : truncated ", ("*", "truncated", None, None, (1, math.inf)), id="every-request-any-group"
    ),
    pytest.param("start:never@#1", ("start", "never", None, None, (1, 1)), id="never-finishes"),
    pytest.param(
        "results:unknown_status=paused@1",
        ("results", "unknown_status", "paused", 1.0, None),
        id="unknown-status-always",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), VALID)
def test_valid_rules_parse(spec, expected):
    """GROUP:FAULT[=ARG][@WHEN] with WHEN a probability (0.3, 30%) or a schedule (#N, #N-M, #N-)."""
    (rule,) = parse_faults(spec).rules
    group, kind, arg, probability, schedule = expected
    assert (rule.group, rule.fault.kind.value, rule.fault.arg, rule.probability) == (
        group,
        kind,
        arg,
        probability,
    )
    if schedule is not None:
        assert (rule.first, rule.last) == schedule


def test_several_rules_and_empty_specs():
    """Rules are separated by ';' (or ','); an empty or missing spec means no faults."""
    assert len(parse_faults("results:429@0.5; start:drop@#1,runs:500").rules) == 3
    assert parse_faults(None).rules == () == parse_faults("  ").rules


INVALID = [
    pytest.param("results", "expected GROUP:FAULT", id="no-colon"),
    pytest.param("result:429", "unknown endpoint group 'result'", id="unknown-group"),
    pytest.param("results:418", "unknown fault '418'", id="unknown-fault"),
    pytest.param("results:429@1.5", "outside (0, 1]", id="probability-too-big"),
    pytest.param("results:429@0", "outside (0, 1]", id="probability-zero"),
    pytest.param("results:429@often", "bad probability 'often'", id="probability-not-a-number"),
    pytest.param("results:429@#0", "bad schedule '#0'", id="schedule-from-zero"),
    pytest.param("results:429@#4-2", "bad schedule '#4-2'", id="schedule-backwards"),
    pytest.param("results:429@#x", "bad schedule '#x'", id="schedule-not-a-number"),
    pytest.param("results:429@", "nothing after '@'", id="empty-when"),
    pytest.param("results:reset=3", "takes no argument", id="argument-on-reset"),
    pytest.param("results:429=soon", "needs a number of seconds", id="bad-retry-after"),
    pytest.param("results:never", "start group only", id="never-outside-start"),
    pytest.param("results:missing=a b", "needs a field name", id="bad-field-name"),
]


@pytest.mark.parametrize(("spec", "message"), INVALID)
def test_invalid_rules_are_usage_errors_naming_the_part(spec, message):
    """A bad rule is a UsageError quoting the rule and saying what is wrong, with a hint to fix it."""
    with pytest.raises(UsageError) as info:
        parse_faults(f"runs:500@#9;{spec}")
    assert repr(spec.strip()) in info.value.message
    assert message in info.value.message
    assert info.value.hint


def _decisions(spec, seed, group="results", n=200):
    injector = FaultInjector(parse_faults(spec), seed)
    return [injector.decide(group) for _ in range(n)]


def test_probability_is_deterministic_by_seed():
    """The same seed gives the same faulted requests; another seed gives others; the rate is about P."""
    first, again, other = (_decisions("results:503@0.3", s) for s in (7, 7, 8))
    assert first == again
    assert first != other
    assert 40 <= sum(d is not None for d in first) <= 80


def test_schedule_counts_requests_per_group():
    """#N counts only the requests of the rule's group; other groups' traffic does not shift it."""
    injector = FaultInjector(parse_faults("results:429@#2;runs:500@#1"), 0)
    seen = [(g, injector.decide(g)) for g in ("results", "runs", "list", "results", "runs", "results")]
    assert seen == [
        ("results", None),
        ("runs", Fault(FaultKind.E500)),
        ("list", None),
        ("results", Fault(FaultKind.TOO_MANY)),
        ("runs", None),
        ("results", None),
    ]


def test_star_group_counts_every_request_and_first_rule_wins():
    """'*' numbers all API requests together; when several rules match, the first one written wins."""
    injector = FaultInjector(parse_faults("*:502@#2;results:reset"), 0)
    kinds = [
        d.kind.value if d else None for d in (injector.decide(g) for g in ("list", "results", "results"))
    ]
    assert kinds == [None, "502", "reset"]


def test_fault_arguments_have_defaults():
    assert Fault(FaultKind.TOO_MANY).seconds == 1.0
    assert Fault(FaultKind.SLOW).seconds == 5.0
    assert Fault(FaultKind.MISSING).value == "status"
    assert Fault(FaultKind.UNKNOWN_STATUS).value == "exploding"
    assert Fault(FaultKind.TOO_MANY, "7").seconds == 7.0
