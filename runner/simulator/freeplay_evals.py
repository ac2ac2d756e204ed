"""Freeplay evaluations in the simulator: deterministic functions of a recorded output (api-contracts §B3.1).

The text of a recording is the last message of a completion (a plain string ``content``, or the ``text`` of
its content blocks / Vertex ``parts``), or a trace's ``output`` (a string; an object's ``output``, ``text``,
``content``, ``answer`` or ``response`` field; else compact JSON). Each criterion grades that text against
the test case's hidden ``expected`` and ``forbidden`` lists (matching is case-insensitive substring):

    keywords   pass iff every expected keyword appears                score 1/0, label yes/no
    scale      1 + round(3 x share of expected keywords present)
               + 1 if the answer's length is within ``length``          score 1-5, label "1".."5",
                                                                       pass iff score >= pass_at (4)
    forbidden  pass iff no forbidden phrase (the case's and the
               criterion's ``phrases``) appears                        score 1/0, label yes/no
    penalty    1 - penalty x (criterion phrases present), floor 0     score 0-1, label e.g. "0.75",
                                                                       pass iff score >= pass_at (0.75)

Grades aggregate per criterion into the shape the world chose (§C-13): ``pass_fail`` ->
``{"pass": n, "fail": m, "average_score": mean score}``, ``histogram`` -> ``{label: count}``, ``scalar`` ->
the mean score. Client ``eval_results`` grade as: boolean -> score 1/0, label yes/no; number -> the score
itself, with no pass/fail (so ``pass_fail`` renders a numeric client value as its scalar mean).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.simulator.freeplay_world import FpCase, FpCriterion, FpSuite

JSON = dict[str, Any]
_TEXT_KEYS = ("output", "text", "content", "answer", "response")


@dataclass(frozen=True, slots=True)
class Grade:
    score: float
    passed: bool | None  # None: a numeric client value, which has no verdict
    label: str


def _parts_text(parts: Sequence[Any]) -> str:
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    texts += [p for p in parts if isinstance(p, str)]
    return "\n".join(texts)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message in the OpenAI, Anthropic, Vertex, Bedrock or simple format."""
    for key in ("content", "parts"):
        value = message.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return _parts_text(value)
    return ""


def output_text(value: Any) -> str:
    """The text of a trace output (any JSON value)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in _TEXT_KEYS:
            if key in value and value[key] is not None:
                return output_text(value[key])
    if isinstance(value, list) and value and all(isinstance(v, dict | str) for v in value):
        return _parts_text(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _present(phrase: str, text: str) -> bool:
    return phrase.lower() in text


def grade(criterion: FpCriterion, case: FpCase, text: str) -> Grade:
    low = text.lower()
    if criterion.rule == "keywords":
        ok = all(_present(k, low) for k in case.expected)
        return Grade(1.0 if ok else 0.0, ok, "yes" if ok else "no")
    if criterion.rule == "scale":
        found = sum(_present(k, low) for k in case.expected)
        coverage = found / len(case.expected) if case.expected else 1.0
        low_len, high_len = criterion.length
        in_band = low_len <= len(text.strip()) <= high_len
        points = 1 + round(3 * coverage) + (1 if in_band else 0)
        return Grade(float(points), points >= criterion.pass_at, str(points))
    if criterion.rule == "forbidden":
        ok = not any(_present(p, low) for p in (*case.forbidden, *criterion.phrases))
        return Grade(1.0 if ok else 0.0, ok, "yes" if ok else "no")
    hits = sum(_present(p, low) for p in criterion.phrases)  # penalty
    score = round(max(0.0, 1.0 - criterion.penalty * hits), 4)
    return Grade(score, score >= criterion.pass_at, f"{score:g}")


def client_grade(value: bool | float) -> Grade:
    if isinstance(value, bool):
        return Grade(1.0 if value else 0.0, value, "yes" if value else "no")
    return Grade(float(value), None, f"{value:g}")


def aggregate(shape: str, grades: Sequence[Grade]) -> Any:
    """One criterion's summary in ``shape`` (grades is never empty)."""
    mean = round(statistics.fmean(g.score for g in grades), 4)
    if shape == "histogram":
        return dict(sorted(Counter(g.label for g in grades).items()))
    if shape == "pass_fail" and all(g.passed is not None for g in grades):
        passed = sum(1 for g in grades if g.passed)
        return {"pass": passed, "fail": len(grades) - passed, "average_score": mean}
    return mean


def summarise(shapes: Mapping[str, str], graded: Iterable[tuple[str, Grade]]) -> JSON:
    """``{criterion: summary}`` over (criterion name, grade) pairs, in the order criteria first appear."""
    by_name: dict[str, list[Grade]] = {}
    for name, g in graded:
        by_name.setdefault(name, []).append(g)
    return {name: aggregate(shapes.get(name, "pass_fail"), grades) for name, grades in by_name.items()}


def suite_passed(suite: FpSuite, graded: Iterable[tuple[str, Grade]]) -> tuple[bool, JSON]:
    """The suite's verdict and its ``eval_results`` (``{criterion: measured value}``) from auto grades.

    Each ``pass`` threshold needs ``pass_rate`` (share of passing grades) or ``average`` (mean score) at
    least its value; a criterion without any grade fails its threshold."""
    by_name: dict[str, list[Grade]] = {}
    for name, g in graded:
        by_name.setdefault(name, []).append(g)
    measured: JSON = {}
    ok = True
    for name, measure, value in suite.thresholds:
        grades = by_name.get(name, [])
        if not grades:
            measured[name] = None
            ok = False
            continue
        if measure == "pass_rate":
            observed = sum(1 for g in grades if g.passed) / len(grades)
        else:
            observed = statistics.fmean(g.score for g in grades)
        measured[name] = round(observed, 4)
        ok = ok and observed >= value
    return ok, measured
