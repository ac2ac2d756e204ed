"""Write-back: annotate a gate's Cekura runs with the verdict and CI context, and promote runs into test sets.

Opt-in, idempotent, and unable to change the verdict: it runs after the verdict is final, and every failed
write becomes one line of the ``WriteBackReport`` -- ``write_back`` never raises for a platform problem.
Planning is pure (``plan_write_back`` = ``plan_annotations`` + ``plan_promotions``); ``await
write_back(target, plan)`` carries a plan out with bounded concurrency (anyio).

On each run (``PATCH runs-external/{id}/``, api-contracts §A10):

- ``feedback``: one line led by the marker ``[regate <gate> <CI run id>]`` (``runner.writeback_text``),
  appended after the feedback already on the run: PATCH replaces a field, and a reviewer's note must
  survive -- which is why the run is read first.
- ``evaluation_status``: **not written by default**: it is the platform's evaluation (a human's, once
  ``reviewed_*``), and regate's run outcome derives from the platform's ``success`` anyway.
  ``AnnotatePolicy(evaluation_status=True)`` writes ``success``/``failure`` for a passed/failed run
  (nothing otherwise), never a ``reviewed_*`` value, and never over one already on the run.
- ``is_reviewed``: untouched unless ``AnnotatePolicy(mark_reviewed=True|False)``.

Idempotency. Annotations: the runs are read in bulk (``GET runs-external/bulk/``, one request per
``BULK_SIZE`` runs rather than one per run) and a run whose feedback holds the marker is left alone, so a
second write-back for the same CI run writes nothing and one after a partial failure writes only what is
missing (the contract has no conditional update; the race window is one request). Promotions:
``create_from_run`` "returns the created or existing test set" (§A11, [SEED-0]) and the contract has no
cheaper lookup of a run's set, so posting again is the check; the set's name is stable per run.

``promote: failed`` selects runs that completed and failed; ``all`` adds those that passed. Infrastructure
errors and incomplete runs are never promoted: the platform promotes a *completed* run, with scores to copy.
Retrying is the caller's choice (``call``, e.g. wrapping ``retry.call_with_retry``): both writes are safe to
repeat, as PATCH sends whole values and create_from_run returns the existing set.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup

from runner.errors import RegateError
from runner.model import GateVerdict
from runner.providers.cekura_runs import RunReview, TestSetRef
from runner.textclean import one_line
from runner.writeback_text import (
    FEEDBACK_LIMIT,
    GATE_STATUSES,
    RUN_OUTCOMES,
    feedback_line,
    marker,
    mask,
    short_sha,
)

__all__ = [
    "BULK_SIZE",
    "FEEDBACK_LIMIT",
    "GATE_STATUSES",
    "RUN_OUTCOMES",
    "AnnotatePolicy",
    "Caller",
    "MetricExpectation",
    "PromotePolicy",
    "Promotion",
    "RunAnnotation",
    "RunRef",
    "WriteBackPlan",
    "WriteBackReport",
    "WriteBackTarget",
    "feedback_line",
    "marker",
    "plan_annotations",
    "plan_promotions",
    "plan_write_back",
    "runs_of",
    "write_back",
]

T = TypeVar("T")
ExpectedValue = int | float | str | bool | None

BULK_SIZE = 50  # run ids per bulk read (the contract sets no limit; this keeps the URL short)
NAME_LIMIT = 255  # TestSetDetail.name maxLength
LINE_LIMIT = 300  # one failure line of the report
PROMOTE_SELECTIONS = ("failed", "all")
_PROMOTABLE = {"failed": frozenset({"failed"}), "all": frozenset({"passed", "failed"})}
_EVALUATION = {"passed": "success", "failed": "failure"}
_PLATFORM_ID = re.compile(r"[0-9]{1,30}")


# -- what to write ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRef:
    """One run of the gate: its platform id, regate's outcome for it, and its report name."""

    run_id: str
    outcome: str  # a runner.model.RunOutcome value
    name: str = ""  # "<scenario> [<personality>] #NN"

    def __post_init__(self) -> None:
        if self.outcome not in RUN_OUTCOMES:
            raise ValueError(f"run outcome must be one of {RUN_OUTCOMES}, got {self.outcome!r}")


@dataclass(frozen=True, slots=True)
class AnnotatePolicy:
    evaluation_status: bool = False  # write success/failure from the run's outcome
    mark_reviewed: bool | None = None  # None: is_reviewed untouched


@dataclass(frozen=True, slots=True)
class MetricExpectation:
    """One item of create_from_run's ``metrics``: ``{metric, feedback, expected_value}`` (§A11)."""

    metric: int
    expected_value: ExpectedValue = None  # e.g. 5 or 0 for binary, a label for enum; None: not sent
    feedback: str = ""  # a note on the metric; "" is not sent

    def __post_init__(self) -> None:
        if isinstance(self.metric, bool) or not isinstance(self.metric, int) or self.metric < 1:
            raise ValueError(f"a metric id is a positive integer, got {self.metric!r}")
        value = self.expected_value
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {self.metric}: expected_value must be finite")

    def wire(self) -> dict[str, object]:
        item: dict[str, object] = {"metric": self.metric}
        if self.expected_value is not None:
            item["expected_value"] = self.expected_value
        if self.feedback:
            item["feedback"] = self.feedback
        return item


@dataclass(frozen=True, slots=True)
class PromotePolicy:
    select: str  # "failed" | "all"
    metrics: tuple[MetricExpectation, ...]  # required by the contract: at least one
    project: int | None = None  # the project owning the runs, if the config names it

    def __post_init__(self) -> None:
        if self.select not in PROMOTE_SELECTIONS:
            raise ValueError(f"promote must be one of {PROMOTE_SELECTIONS}, got {self.select!r}")
        if not self.metrics:
            raise ValueError("promoting a run needs at least one metric (create_from_run requires metrics)")
        ids = [m.metric for m in self.metrics]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a metric is listed twice for promotion: {ids}")


@dataclass(frozen=True, slots=True)
class RunAnnotation:
    run_id: str
    feedback: str  # the line to add; ``marker`` is its prefix
    evaluation_status: str | None  # None: not written
    is_reviewed: bool | None  # None: not written
    marker: str

    def fields(self, current: RunReview) -> dict[str, object] | None:
        """The PATCH body given the run as it is now; None when the run already carries the marker."""
        if self.marker in current.feedback:
            return None
        kept = current.feedback.rstrip()
        fields: dict[str, object] = {"feedback": f"{kept}\n{self.feedback}" if kept else self.feedback}
        reviewed_status = (current.evaluation_status or "").startswith("reviewed_")
        if self.evaluation_status is not None and not reviewed_status:
            fields["evaluation_status"] = self.evaluation_status
        if self.is_reviewed is not None:
            fields["is_reviewed"] = self.is_reviewed
        return fields


@dataclass(frozen=True, slots=True)
class Promotion:
    run_id: str
    metrics: tuple[MetricExpectation, ...]
    name: str
    project: int | None = None

    def body(self) -> dict[str, object]:
        """The create_from_run body (§A11)."""
        body: dict[str, object] = {
            "run_id": int(self.run_id),
            "metrics": [m.wire() for m in self.metrics],
            "name": self.name,
        }
        if self.project is not None:
            body["project"] = self.project
        return body


@dataclass(frozen=True, slots=True)
class WriteBackPlan:
    gate: str
    annotations: tuple[RunAnnotation, ...]
    promotions: tuple[Promotion, ...]
    skipped: tuple[str, ...] = ()  # runs that cannot be written, one line each (not failures)


# -- pure planning -----------------------------------------------------------------------------------------


def _writable(runs: Iterable[RunRef]) -> tuple[list[RunRef], list[str]]:
    """Runs with a platform id, each once, and a line for each run that has none."""
    kept: dict[str, RunRef] = {}
    skipped: list[str] = []
    for run in runs:
        if not _PLATFORM_ID.fullmatch(run.run_id):
            skipped.append(one_line(f"run {run.run_id!r}: no platform run id, nothing written", LINE_LIMIT))
        else:
            kept.setdefault(run.run_id, run)
    return list(kept.values()), skipped


def plan_annotations(
    gate: str,
    status: str,
    runs: Iterable[RunRef],
    ci: Mapping[str, str],
    *,
    policy: AnnotatePolicy = AnnotatePolicy(),
    blocking: bool = True,
    secrets: Iterable[str] = (),
) -> tuple[RunAnnotation, ...]:
    """One annotation per run that has a platform id."""
    secrets = tuple(secrets)
    mark = marker(gate, ci)
    return tuple(
        RunAnnotation(
            run_id=run.run_id,
            feedback=feedback_line(gate, status, run.outcome, ci, blocking=blocking, secrets=secrets),
            evaluation_status=_EVALUATION.get(run.outcome) if policy.evaluation_status else None,
            is_reviewed=policy.mark_reviewed,
            marker=mark,
        )
        for run in _writable(runs)[0]
    )


def plan_promotions(
    gate: str,
    runs: Iterable[RunRef],
    policy: PromotePolicy,
    ci: Mapping[str, str] | None = None,
    *,
    secrets: Iterable[str] = (),
) -> tuple[Promotion, ...]:
    """The runs ``policy.select`` picks, each as a create_from_run body with the configured metrics."""
    short = f" {short_sha(ci)}" if ci and short_sha(ci) else ""
    secrets = tuple(secrets)
    promotions = []
    for run in _writable(runs)[0]:
        if run.outcome not in _PROMOTABLE[policy.select]:
            continue
        label = run.name or f"run {run.run_id}"
        name = mask(f"regate {gate}{short}: {label} (run {run.run_id})", secrets)
        promotions.append(Promotion(run.run_id, policy.metrics, one_line(name, NAME_LIMIT), policy.project))
    return tuple(promotions)


def plan_write_back(
    gate: str,
    status: str,
    runs: Sequence[RunRef],
    ci: Mapping[str, str],
    *,
    annotate: AnnotatePolicy | None = AnnotatePolicy(),
    promote: PromotePolicy | None = None,
    blocking: bool = True,
    secrets: Iterable[str] = (),
) -> WriteBackPlan:
    """Everything to write for one gate; ``annotate=None`` writes no annotation, ``promote=None`` no set."""
    secrets = tuple(secrets)
    annotations = (
        ()
        if annotate is None
        else plan_annotations(gate, status, runs, ci, policy=annotate, blocking=blocking, secrets=secrets)
    )
    promotions = () if promote is None else plan_promotions(gate, runs, promote, ci, secrets=secrets)
    return WriteBackPlan(gate, annotations, promotions, tuple(_writable(runs)[1]))


def runs_of(gate: GateVerdict) -> tuple[RunRef, ...]:
    """The runs of a gate's verdict, as planning takes them."""
    return tuple(RunRef(run.record.run_id, run.outcome.value, run.name) for run in gate.runs)


# -- carrying a plan out -----------------------------------------------------------------------------------


class WriteBackTarget(Protocol):
    """What write-back needs from a platform (``CekuraProvider`` has it)."""

    async def get_runs(self, run_ids: Sequence[str]) -> Mapping[str, RunReview]: ...

    async def update_run(self, run_id: str, fields: Mapping[str, object]) -> RunReview: ...

    async def create_test_set_from_run(self, body: Mapping[str, object]) -> TestSetRef: ...


class Caller(Protocol):
    """How each request is made, e.g. wrapped in ``retry.call_with_retry``; the default makes it once."""

    def __call__(self, request: Callable[[], Awaitable[T]]) -> Awaitable[T]: ...


async def _once(request: Callable[[], Awaitable[T]]) -> T:
    return await request()


@dataclass(frozen=True, slots=True)
class WriteBackReport:
    gate: str
    annotated: tuple[str, ...] = ()  # run ids annotated by this write-back
    already_annotated: tuple[str, ...] = ()  # run ids that carried the marker: nothing written
    promoted: tuple[tuple[str, str], ...] = ()  # (run id, test set id), created or returned as existing
    failures: tuple[str, ...] = ()  # one line each; never a secret
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        text = (
            f"write-back {self.gate}: {len(self.annotated)} run(s) annotated, "
            f"{len(self.already_annotated)} already annotated, {len(self.promoted)} promoted to test sets"
        )
        return text + (f", {len(self.failures)} failed" if self.failures else "")


async def write_back(
    target: WriteBackTarget,
    plan: WriteBackPlan,
    *,
    concurrency: int = 4,
    timeout: float | None = None,  # noqa: ASYNC109 - what is unfinished then must still be reported
    call: Caller | None = None,
    secrets: Iterable[str] = (),
) -> WriteBackReport:
    """Carry ``plan`` out, at most ``concurrency`` requests at once and within ``timeout`` seconds (what
    is unfinished then is reported as failed). Every failure becomes a line of the report; nothing raises
    but cancellation from outside."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    send: Caller = call or _once
    secrets = tuple(secrets)
    limiter = anyio.CapacityLimiter(concurrency)
    done: dict[tuple[str, str], str] = {}  # ("annotate" | "promote", run id) -> outcome word or test set id
    failed: dict[tuple[str, str], str] = {}

    def fail(key: tuple[str, str], what: str, exc: BaseException | str) -> None:
        if isinstance(exc, RegateError):
            why = exc.message
        elif isinstance(exc, str):
            why = exc
        else:  # a bug somewhere below: still never allowed to change the verdict
            why = f"unexpected {type(exc).__name__}: {exc}"
        line = f"run {key[1]}: {what}: {why}"
        failed[key] = mask(one_line(mask(line, secrets), LINE_LIMIT), secrets)

    async def request(make: Callable[[], Awaitable[T]]) -> T:
        async with limiter:
            return await send(make)

    async def annotate(annotation: RunAnnotation, current: RunReview) -> None:
        key = ("annotate", annotation.run_id)
        fields = annotation.fields(current)
        if fields is None:
            done[key] = "already"
            return
        try:
            await request(functools.partial(target.update_run, annotation.run_id, fields))
        except Exception as exc:
            fail(key, "not annotated", exc)
        else:
            done[key] = "annotated"

    async def read_then_annotate(chunk: Sequence[RunAnnotation], tg: TaskGroup) -> None:
        ids = [a.run_id for a in chunk]
        try:
            current = await request(functools.partial(target.get_runs, ids))
        except Exception as exc:
            for a in chunk:
                fail(("annotate", a.run_id), "not annotated: its current feedback could not be read", exc)
            return
        for a in chunk:
            if a.run_id in current:
                tg.start_soon(annotate, a, current[a.run_id])
            else:
                fail(("annotate", a.run_id), "not annotated", "the platform did not return this run")

    async def promote(promotion: Promotion) -> None:
        key = ("promote", promotion.run_id)
        try:
            test_set = await request(functools.partial(target.create_test_set_from_run, promotion.body()))
        except Exception as exc:
            fail(key, "not promoted", exc)
            return
        if test_set.source_id not in (None, promotion.run_id):  # fail closed: not the set we asked for
            fail(
                key,
                "not promoted",
                f"the answer is test set {test_set.test_set_id} of run {test_set.source_id}",
            )
        else:
            done[key] = test_set.test_set_id

    with anyio.move_on_after(timeout):
        async with anyio.create_task_group() as tg:
            annotations = plan.annotations
            for start in range(0, len(annotations), BULK_SIZE):
                tg.start_soon(read_then_annotate, annotations[start : start + BULK_SIZE], tg)
            for promotion in plan.promotions:
                tg.start_soon(promote, promotion)

    planned = [("annotate", a.run_id, "not annotated") for a in plan.annotations]
    planned += [("promote", p.run_id, "not promoted") for p in plan.promotions]
    for kind, run_id, what in planned:
        if (kind, run_id) not in done and (kind, run_id) not in failed:
            fail((kind, run_id), what, "the write-back time limit passed first")
    annotations_done = [(a.run_id, done.get(("annotate", a.run_id))) for a in plan.annotations]
    return WriteBackReport(
        gate=plan.gate,
        annotated=tuple(run_id for run_id, word in annotations_done if word == "annotated"),
        already_annotated=tuple(run_id for run_id, word in annotations_done if word == "already"),
        promoted=tuple(
            (p.run_id, done[("promote", p.run_id)]) for p in plan.promotions if ("promote", p.run_id) in done
        ),
        failures=tuple(failed[(kind, run_id)] for kind, run_id, _ in planned if (kind, run_id) in failed),
        skipped=plan.skipped,
    )
