"""The ``baseline:`` and ``statistics:`` sections, in ``defaults`` and in any gate (the gate's keys win).

baseline:
  report: baselines/main.json   # a regate JSON report (regate baseline save), relative to the config
  result: "4521"                # or, in a gate only: a platform result id fetched at run time
  on_missing: inconclusive      # pass | fail | inconclusive: no baseline, or the gate absent from it
statistics:
  confidence: 0.95              # absent: absolute rate checks compare the observed rate as before
  mode: strict                  # strict | lenient (see runner.stats)
  min_runs: 10                  # per side; fewer cannot decide: inconclusive, never a pass
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TypedDict

from runner.configfields import Fields, Section
from runner.settings import BaselineSpec, Decide, Defaults, OnMissing, Statistics
from runner.thresholds import Thresholds
from runner.yamlpos import Node

__all__ = ["BASELINE_KEYS", "STATISTICS_KEYS", "gate_comparison", "read_baseline", "read_statistics"]

BASELINE_KEYS = ("report", "result", "on_missing")
STATISTICS_KEYS = ("confidence", "mode", "min_runs")


def read_baseline(
    fields: Fields, node: Node | None, path: str, base: BaselineSpec | None, *, base_dir: str, in_gate: bool
) -> BaselineSpec | None:
    """The section over ``base`` (the defaults'): ``report`` and ``result`` replace each other."""
    if node is None:
        return base
    s = fields.section(node, path, BASELINE_KEYS, line=node.line)
    report = result = None
    if (value := s.get("report")) is not None:
        written = fields.string(value, s.sub("report"), what="a path to a regate JSON report")
        report = os.path.normpath(os.path.join(base_dir, written))
    if (value := s.get("result")) is not None:
        if not in_gate:
            fields.fail(
                s.entries["result"][0],
                s.sub("result"),
                "a platform result is one gate's baseline, not every gate's",
                hint="move result: to the gate, or use report: in defaults",
            )
        scalar = fields.scalar(value, s.sub("result"), "a result id")
        result = str(scalar.value).strip()
        if not result or isinstance(scalar.value, bool):
            fields.fail(value, s.sub("result"), "expected a result id such as 4521 or a test run UUID")
    if report is not None and result is not None:
        fields.fail(
            s.node,
            path,
            "'report' and 'result' both name a baseline",
            hint="keep one: report: <regate JSON report> or result: <platform result id>",
        )
    on_missing = base.on_missing if base is not None else OnMissing.INCONCLUSIVE
    if (value := s.get("on_missing")) is not None:
        on_missing = OnMissing(
            fields.choice(value, s.sub("on_missing"), [o.value for o in OnMissing], what="policy")
        )
    if report is None and result is None:
        if base is None or (base.report is None and base.result is None):
            fields.fail(
                s.node,
                path,
                "no baseline named",
                hint="add report: <regate JSON report> or result: <result id>",
            )
        return replace(base, on_missing=on_missing) if base is not None else None
    return BaselineSpec(report=report, result=result, on_missing=on_missing)


def read_statistics(fields: Fields, node: Node | None, path: str, base: Statistics) -> Statistics:
    if node is None:
        return base
    s: Section = fields.section(node, path, STATISTICS_KEYS, line=node.line)
    confidence, mode, min_runs = base.confidence, base.mode, base.min_runs
    if (value := s.get("confidence")) is not None:
        confidence = fields.number(value, s.sub("confidence"), minimum=0.5)
        if not confidence < 1:
            fields.fail(
                value, s.sub("confidence"), f"confidence must be below 1, got {confidence}", hint="e.g. 0.95"
            )
    if (value := s.get("mode")) is not None:
        mode = Decide(fields.choice(value, s.sub("mode"), [d.value for d in Decide], what="mode"))
    if (value := s.get("min_runs")) is not None:
        min_runs = fields.integer(value, s.sub("min_runs"), minimum=1)
    return Statistics(confidence=confidence, mode=mode, min_runs=min_runs)


class GateComparison(TypedDict):
    baseline: BaselineSpec | None
    statistics: Statistics


def gate_comparison(
    fields: Fields, s: Section, defaults: Defaults, base_dir: str, thresholds: Thresholds
) -> GateComparison:
    """A gate's ``baseline`` and ``statistics`` over the defaults'. Change checks (``drop``/``increase``)
    need a baseline to compare with: a gate that has them and none is refused at load time."""
    baseline = read_baseline(
        fields, s.get("baseline"), s.sub("baseline"), defaults.baseline, base_dir=base_dir, in_gate=True
    )
    if thresholds.changes and baseline is None:
        fields.fail(
            s.node.line,
            s.path,
            f"the threshold {thresholds.changes[0].text!r} compares with a baseline, but the gate has none",
            hint="add baseline: {report: <regate JSON report>} to the gate or to defaults",
        )
    statistics = read_statistics(fields, s.get("statistics"), s.sub("statistics"), defaults.statistics)
    return GateComparison(baseline=baseline, statistics=statistics)
