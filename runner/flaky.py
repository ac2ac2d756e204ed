"""Flaky scenarios: re-running the scenarios whose runs failed (``retries: N``), and what that means. Pure.

After a gate's result is final, the orchestrator starts a new result with only the scenarios that had a
failed run (``retry_spec``: those scenario ids, frequency 1, the gate's personalities and profiles),
up to ``retries`` times, each time with the scenarios still failing. Infrastructure errors and runs
without a verdict are not retried: they are not the agent's answer, and they have their own limits
(``max_infra_errors``) and their own fail-closed rule.

A scenario whose run failed and which then passed in a retry is *flaky* (``apply_retries``). With
``flaky: pass`` its failed runs count as passed (the retry showed the agent can do it); with ``flaky: fail``
they stay failed (the retry is only information). Either way every such run is marked ``flaky`` in every
report. A scenario that failed again is simply failed; its retry runs are listed, never counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runner.model import ResultSnapshot, RunOutcome, RunVerdict
from runner.runs import name_runs
from runner.settings import CekuraGate, ScenarioRef
from runner.stats import unstable

__all__ = ["apply_retries", "failed_scenarios", "retry_spec", "unstable_scenarios"]


def failed_scenarios(runs: Sequence[RunVerdict]) -> tuple[str, ...]:
    """The scenario ids of the failed runs, in first-seen order (runs without an id cannot be retried)."""
    ids = [run.record.scenario_id for run in runs if run.outcome is RunOutcome.FAILED]
    return tuple(dict.fromkeys(i for i in ids if i is not None and i.isdigit()))


def still_failing(runs: Sequence[RunVerdict], retries: Sequence[ResultSnapshot]) -> tuple[str, ...]:
    """The failed scenarios that no retry has passed yet: what the next retry runs."""
    passed = _passed_on_retry(retries)
    return tuple(i for i in failed_scenarios(runs) if i not in passed)


def retry_spec(spec: CekuraGate, scenario_ids: Sequence[str]) -> CekuraGate:
    """The gate narrowed to ``scenario_ids``, once each; per-scenario settings (a scenario's own websocket
    URL or Pipecat room) are kept from the gate's list when it named the scenario."""
    known = {str(ref.id): ref for ref in spec.scenarios}
    refs = tuple(known.get(i) or ScenarioRef(int(i)) for i in scenario_ids)
    return replace(spec, scenarios=refs, tags=(), folder=None, frequency=1)


def _passed_on_retry(retries: Sequence[ResultSnapshot]) -> set[str]:
    return {
        run.record.scenario_id
        for snapshot in retries
        for run in name_runs(snapshot.runs)
        if run.outcome is RunOutcome.PASSED and run.record.scenario_id is not None
    }


def apply_retries(
    runs: Sequence[RunVerdict], retries: Sequence[ResultSnapshot], flaky: str
) -> tuple[RunVerdict, ...]:
    """``runs`` with each failed run of a scenario that passed on retry marked flaky (and, with
    ``flaky == "pass"``, counted as passed). Without retries the runs come back unchanged."""
    if not retries:
        return tuple(runs)
    passed = _passed_on_retry(retries)
    outcome = RunOutcome.PASSED if flaky == "pass" else RunOutcome.FAILED
    return tuple(
        replace(run, outcome=outcome, flaky=True)
        if run.outcome is RunOutcome.FAILED and run.record.scenario_id in passed
        else run
        for run in runs
    )


def unstable_scenarios(runs: Sequence[RunVerdict]) -> tuple[str, ...]:
    """Scenarios that both passed and failed in this result (``runner.stats.unstable``), by name, sorted:
    the noisy ones, worth a look before trusting any single night."""
    outcomes: dict[str, list[bool]] = {}
    for run in runs:
        if run.outcome in (RunOutcome.PASSED, RunOutcome.FAILED):
            outcomes.setdefault(run.record.scenario, []).append(run.outcome is RunOutcome.PASSED)
    return tuple(sorted(name for name, seen in outcomes.items() if unstable(seen)))
