"""Executing a platform's test cases against the target under test, and recording each output.

Used for Freeplay test runs and client-orchestrated suite runs: the platform hands back test cases, regate
runs the target on each (bounded concurrency, a per-case timeout inside ``runner.targets``) and records
every output — a failed case too, with its error as the output — so the platform can finish the run.
Every case is a run record from the start (pending), so reports account for all of them even when the
gate is interrupted or times out half-way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from runner.cases import case_record, pending_record
from runner.errors import DeadlineExceeded, ProviderError, StartOutcomeUnknown, TransientError
from runner.model import RunRecord, TargetResult
from runner.providers.base import Provider, StartedResult
from runner.settings import FreeplayGate, FreeplayMode
from runner.targets import run_cases

RECORD_ROUNDS = 3  # rounds of `retry.attempts` tries each, for one idempotent recording


async def execute_cases(
    gate: FreeplayGate,
    started: StartedResult,
    provider: Provider,
    *,
    retried: Callable[[Callable[[], Awaitable[object]]], Awaitable[object]],
    seconds_left: float,
    on_records: Callable[[tuple[RunRecord, ...]], None],
    note: Callable[[str], None],
) -> tuple[RunRecord, ...]:
    """Run the target on every case and record the outputs; returns one record per case, in order."""
    assert gate.target is not None  # noqa: S101 - config requires a target in these modes
    cases = started.cases
    if not cases:
        if gate.mode is FreeplayMode.DATASET and started.run_count is None:
            # Found again by name after a lost answer: the run exists, but its test cases were in the
            # answer that was lost, and creating another run would double the work on the platform.
            raise StartOutcomeUnknown(
                f"test run {started.result_id} was created, but the answer listing its test cases was lost; "
                "regate does not create a second run",
                hint="re-run the gate; the orphaned test run stays in-progress in Freeplay",
            )
        fetched = await retried(lambda: provider.fetch_cases(started))
        assert isinstance(fetched, tuple)  # noqa: S101 - fetch_cases returns a tuple
        cases = fetched
    records: dict[str, RunRecord] = {case.case_id: pending_record(case) for case in cases}
    on_records(tuple(records.values()))
    if not cases:
        note("the platform returned no test cases")
        return ()
    note(f"running the target on {len(cases)} test cases ({gate.target_concurrency} at a time)")
    not_recorded: list[str] = []

    async def record(result: TargetResult) -> None:
        # Recordings are idempotent (ids derived from run and case), and one lost recording leaves the
        # whole run unfinished: keep asking for a few rounds, each bounded by the gate's retry budget.
        for round_ in range(RECORD_ROUNDS):
            try:
                await retried(lambda: provider.record(started, result))
                return
            except TransientError:
                if round_ == RECORD_ROUNDS - 1:
                    raise

    async def on_result(result: TargetResult) -> None:
        error: str | None = None
        try:
            await record(result)
        except ProviderError as exc:
            error = exc.message
            not_recorded.append(f"{result.case.label}: {exc.message}")
        records[result.case.case_id] = case_record(result, record_error=error)
        on_records(tuple(records.values()))
        if not result.ok:
            note(f"target error on '{result.case.label}': {result.error or 'unknown error'}")

    with anyio.move_on_after(max(0.0, seconds_left)) as scope:
        await run_cases(gate.target, list(cases), concurrency=gate.target_concurrency, on_result=on_result)
    done = sum(1 for record in records.values() if record.terminal)
    if scope.cancelled_caught:
        raise DeadlineExceeded(
            f"deadline reached while the target ran the test cases ({done}/{len(cases)} done)"
        )
    errors = sum(1 for record in records.values() if record.infra_error)
    note(f"ran {len(cases)} test cases: {len(cases) - errors} recorded, {errors} failed")
    if not_recorded:
        raise ProviderError(
            f"{len(not_recorded)} of {len(cases)} test cases could not be recorded, so the run cannot "
            f"finish; first: {not_recorded[0]}"
        )
    return tuple(records.values())
