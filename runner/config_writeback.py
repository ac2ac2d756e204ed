"""The ``write_back:`` section (Cekura gates, or defaults for every Cekura gate; the gate's replaces it).

write_back:
  annotate: true               # add a line with the verdict and CI context to each run's feedback
  evaluation_status: false     # also write success/failure from each run's outcome
  mark_reviewed: false         # absent: is_reviewed is left alone
  promote: failed              # failed | all: promote those runs into test sets
  metrics:                     # what the promoted test cases check (required with promote)
    - {metric: 501, expected_value: 5}
    - 503                      # a metric id alone: no expected value
  project: 1                   # the runs' project, if the platform needs it
"""

from __future__ import annotations

from runner.configfields import Fields, describe
from runner.settings import WriteBackSpec
from runner.yamlpos import Map, Node, Scalar

__all__ = ["WRITE_BACK_KEYS", "read_write_back"]

WRITE_BACK_KEYS = ("annotate", "evaluation_status", "mark_reviewed", "promote", "metrics", "project")
PROMOTE = ("failed", "all")
_METRIC_KEYS = ("metric", "expected_value")


def read_write_back(
    fields: Fields, node: Node | None, path: str, base: WriteBackSpec | None
) -> WriteBackSpec | None:
    if node is None:
        return base
    if isinstance(node, Scalar) and node.value is False:
        return None  # write_back: false in a gate turns the defaults' off
    s = fields.section(node, path, WRITE_BACK_KEYS, line=node.line)
    annotate = True if (v := s.get("annotate")) is None else fields.boolean(v, s.sub("annotate"))
    status = (
        False if (v := s.get("evaluation_status")) is None else fields.boolean(v, s.sub("evaluation_status"))
    )
    reviewed = None if (v := s.get("mark_reviewed")) is None else fields.boolean(v, s.sub("mark_reviewed"))
    promote = (
        None
        if (v := s.get("promote")) is None
        else fields.choice(v, s.sub("promote"), PROMOTE, what="selection")
    )
    project = None if (v := s.get("project")) is None else fields.integer(v, s.sub("project"), minimum=1)
    metrics: list[tuple[int, float | str | bool | None]] = []
    if (v := s.get("metrics")) is not None:
        for item, item_path in fields.items(v, s.sub("metrics"), "metrics"):
            metrics.append(_metric(fields, item, item_path))
    if promote is not None and not metrics:
        fields.fail(
            s.node,
            path,
            "promote needs the metrics the new test cases check",
            hint="add metrics: [{metric: <metric id>, expected_value: <value>}]",
        )
    ids = [metric for metric, _ in metrics]
    if len(set(ids)) != len(ids):
        fields.fail(v, s.sub("metrics"), "a metric is listed twice", hint="list each metric id once")
    if not annotate and promote is None:
        fields.fail(
            s.node,
            path,
            "write_back writes nothing",
            hint="set annotate: true or promote: failed, or remove it",
        )
    return WriteBackSpec(annotate, status, reviewed, promote, tuple(metrics), project)


def _metric(fields: Fields, node: Node, path: str) -> tuple[int, float | str | bool | None]:
    if not isinstance(node, Map):
        return fields.integer(node, path, minimum=1), None
    m = fields.section(node, path, _METRIC_KEYS, line=node.line)
    metric = fields.integer(m.require("metric", hint="add metric: <metric id>"), m.sub("metric"), minimum=1)
    value_node = m.get("expected_value")
    if value_node is None:
        return metric, None
    if not isinstance(value_node, Scalar) or value_node.value is None:
        fields.fail(
            value_node,
            m.sub("expected_value"),
            f"expected a number, a label or true/false, got {describe(value_node)}",
        )
    value = value_node.value
    if isinstance(value, bool | int | float | str):
        return metric, value
    fields.fail(
        value_node,
        m.sub("expected_value"),
        f"expected a number, a label or true/false, got {describe(value_node)}",
    )
