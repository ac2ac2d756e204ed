"""Runs every gate concurrently until each reaches a terminal status, a deadline, or an interrupt.

Shape (design.md §1, §7):
- one task group; a ``CapacityLimiter`` bounds how many gates talk to the platforms at once;
- each gate's task catches its own expected errors and turns them into that gate's ``GateFailure`` —
  one gate's failure never cancels another (anyio would wrap it in an ExceptionGroup and cancel all);
- deadlines are measured on the injected clock: per gate (``timeout``) and overall (``overall_timeout``);
  a gate that times out ends its remote calls itself;
- SIGINT/SIGTERM/SIGHUP cancel the work; then, shielded, ``on_finished`` writes the reports with what is
  known (unfinished gates marked ``Interrupted``), and only then are remote calls ended, within a few
  seconds, so everything fits GitHub's window (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that).
  A second signal cuts the remote clean-up short.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, TypeVar

import anyio

from runner.aggregates import plural
from runner.case_runner import execute_cases
from runner.clock import Clock
from runner.durations import format_duration
from runner.errors import (
    AuthError,
    DeadlineExceeded,
    ProtocolError,
    ProviderError,
    RequestRejected,
    StartOutcomeUnknown,
    TransientError,
)
from runner.flaky import retry_spec, still_failing
from runner.model import FailureKind, GateExecution, GateFailure, ResultSnapshot, RunRecord
from runner.polling import PollGaveUp, PollTimeout, StatusFilter, poll_until_terminal
from runner.providers.base import Provider, StartedResult
from runner.retry import ProviderPause, RetryBudget, call_with_retry
from runner.runs import name_runs
from runner.settings import CekuraGate, Config, Defaults, FreeplayGate, GateSpec
from runner.textclean import one_line

log = logging.getLogger("regate.orchestrator")
T = TypeVar("T")

CLEANUP_SECONDS = 4.0  # remote clean-up after reports; GitHub kills 10 s after its first signal
SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Events(Protocol):
    """Progress sink (the CLI prints these). Called from the event loop; must not block."""

    def gate_started(self, gate: GateSpec, target: str, started: StartedResult) -> None: ...

    def snapshot(self, gate: GateSpec, snapshot: ResultSnapshot) -> None: ...

    def retrying(self, gate: GateSpec, error: TransientError, delay: float) -> None: ...

    def gate_done(self, gate: GateSpec, execution: GateExecution) -> None: ...

    def interrupted(self, signal_name: str) -> None: ...

    def note(self, gate: GateSpec, text: str) -> None:
        """A provider-specific progress line (e.g. test cases executed by the target)."""
        ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    executions: tuple[GateExecution, ...]
    interrupted_by: str | None
    duration_s: float


@dataclass(slots=True)
class _GateState:
    spec: GateSpec
    target: str
    started: StartedResult | None = None
    last: ResultSnapshot | None = None
    failure: GateFailure | None = None
    share_url: str | None = None
    cases: tuple[RunRecord, ...] = ()  # executed test cases (Freeplay), merged into every snapshot
    t0: float | None = None
    t1: float | None = None
    finished: bool = False
    remote_ended: bool = False
    retries: list[ResultSnapshot] = field(default_factory=list)  # finished re-runs of failed scenarios
    retry_started: StartedResult | None = None  # the re-run in flight, if any (ended like the result)
    retry_last: ResultSnapshot | None = None

    def execution(self, now: float, interrupted_by: str | None) -> GateExecution:
        failure = self.failure
        if not self.finished and failure is None:
            what = "before it started" if self.started is None else "while waiting for the result"
            failure = GateFailure(
                FailureKind.INTERRUPTED, f"interrupted by {interrupted_by or 'cancel'} {what}"
            )
        end = self.t1 if self.t1 is not None else now
        return GateExecution(
            gate=self.spec.name,
            provider=self.spec.provider,
            target=self.target,
            snapshot=self.last,
            failure=failure,
            duration_s=max(0.0, end - self.t0) if self.t0 is not None else 0.0,
            share_url=self.share_url,
            retries=tuple(self.retries),
        )


@dataclass(slots=True)
class _Shared:
    clock: Clock
    rng: random.Random
    events: Events
    limiter: anyio.CapacityLimiter
    overall_deadline: float
    defaults: Defaults
    pauses: dict[str, ProviderPause] = field(default_factory=dict)
    auth_failures: dict[str, str] = field(default_factory=dict)  # provider -> first gate refused
    status_filters: dict[str, StatusFilter] = field(default_factory=dict)

    def status_filter_for(self, provider: str) -> StatusFilter:
        return self.status_filters.setdefault(provider, StatusFilter())

    def pause_for(self, provider: str) -> ProviderPause:
        if provider not in self.pauses:
            retry = self.defaults.retry
            self.pauses[provider] = ProviderPause(
                threshold=retry.breaker_threshold, cooldown=retry.breaker_cooldown, rate=retry.rate_limit
            )
        return self.pauses[provider]


def _failure(exc: BaseException) -> GateFailure:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    hint = getattr(exc, "hint", None)
    if hint:
        message = f"{message} (hint: {hint})"
    if isinstance(exc, AuthError):
        return GateFailure(FailureKind.AUTH, message)
    if isinstance(exc, DeadlineExceeded):
        return GateFailure(FailureKind.TIMEOUT, message)
    if isinstance(exc, ProtocolError):
        return GateFailure(FailureKind.PROTOCOL, message)
    if isinstance(exc, RequestRejected):
        return GateFailure(FailureKind.INFRA, f"the platform rejected the request: {message}")
    if isinstance(exc, ProviderError):
        return GateFailure(FailureKind.INFRA, message)
    return GateFailure(FailureKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")


async def _end_remote(state: _GateState, provider: Provider) -> None:
    """Best effort: stop in-flight calls of a result (or of a re-run) that will not be waited for any more."""
    if state.remote_ended:
        return
    pending = [
        started
        for started, last in ((state.started, state.last), (state.retry_started, state.retry_last))
        if started is not None and not (last is not None and last.terminal)
    ]
    state.remote_ended = True
    for started in pending:
        try:
            await provider.cancel(started)
        except ProviderError as exc:
            log.warning("could not end the calls of result %s: %s", started.result_id, exc.message)
        except Exception:  # a bug here must not lose the verdict that is already written
            log.warning("could not end the calls of result %s", started.result_id, exc_info=True)


@dataclass(slots=True)
class _Retrier:
    """Retries one gate's calls: the gate's budget and deadline, the provider's shared 429 pause."""

    spec: GateSpec
    shared: _Shared
    budget: RetryBudget
    deadline: float
    pause: ProviderPause

    def on_retry(self, exc: TransientError, attempt: int, delay: float) -> None:
        self.shared.events.retrying(self.spec, exc, delay)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retry(
            call, policy=self.shared.defaults.retry, budget=self.budget, clock=self.shared.clock,
            rng=self.shared.rng, deadline=self.deadline, pause=self.pause, on_retry=self.on_retry,
        )  # fmt: skip


async def _start(spec: GateSpec, provider: Provider, retried: _Retrier) -> StartedResult:
    reference = uuid.uuid4().hex[:12]
    try:
        return await retried(lambda: provider.start(spec, reference))
    except StartOutcomeUnknown as exc:
        if not provider.can_find_again(spec):
            raise StartOutcomeUnknown(
                f"{exc.message}; runs may have been created and cannot be found again in mode "
                f"'{spec.mode}', so regate does not start them twice",
                hint="check the platform's dashboard for the result before re-running",
            ) from exc
        first_error = exc
    # The start may or may not have been processed: look for it by its unique name, a few times, because
    # the platform may still be creating it. Never send the POST again.
    clock = retried.shared.clock
    for attempt in range(3):
        if clock.now() >= retried.deadline:
            break
        try:
            found = await retried(lambda: provider.find_started(spec, reference))
        except DeadlineExceeded:
            break
        if found is not None:
            return found
        if attempt < 2:
            await clock.sleep(min(2.0 * (attempt + 1), max(0.0, retried.deadline - clock.now())))
    raise StartOutcomeUnknown(
        f"{first_error.message}; no result with reference {reference} was found, "
        "so regate does not start the runs again",
        hint="check the platform's dashboard before re-running",
    )


async def _retry_failed(
    state: _GateState,
    spec: CekuraGate,
    provider: Provider,
    shared: _Shared,
    retried: _Retrier,
    deadline: float,
) -> None:
    """Re-run the scenarios with a failed run, up to ``spec.retries`` times (``runner.flaky``). The result
    is final already: a re-run that cannot finish (deadline, platform errors) ends the retries with a
    note, and the gate is judged on what finished."""
    assert state.last is not None  # noqa: S101 - the caller checked it
    for attempt in range(1, spec.retries + 1):
        ids = still_failing(name_runs(state.last.runs), state.retries)
        if not ids:
            return
        what = f"retry {attempt}/{spec.retries} of {plural(len(ids), 'failed scenario')} ({', '.join(ids)})"
        shared.events.note(spec, f"{what}: starting")
        state.retry_started, state.retry_last = None, None
        try:
            started = state.retry_started = await _start(retry_spec(spec, ids), provider, retried)

            def on_snapshot(snapshot: ResultSnapshot) -> None:
                state.retry_last = snapshot

            await poll_until_terminal(
                partial(provider.poll, started),
                poll=shared.defaults.poll, retry=shared.defaults.retry, budget=retried.budget,
                clock=shared.clock, rng=shared.rng, deadline=deadline, pause=retried.pause,
                on_snapshot=on_snapshot, on_retry=retried.on_retry,
                probe=partial(provider.probe, started), total_hint=started.run_count,
                status_filter=shared.status_filter_for(provider.name),
            )  # fmt: skip
        except (ProviderError, DeadlineExceeded) as exc:
            shared.events.note(
                spec, f"{what}: not finished ({one_line(exc.message, 200)}); judged without it"
            )
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
                await _end_remote(state, provider)
            return
        if state.retry_last is None or not state.retry_last.succeeded:
            status = state.retry_last.status if state.retry_last is not None else "unknown"
            shared.events.note(spec, f"{what}: ended {status}; judged without it")
            return
        state.retries.append(state.retry_last)
        passed = len(ids) - len(still_failing(name_runs(state.last.runs), state.retries))
        shared.events.note(spec, f"{what}: {passed} of {len(ids)} passed (flaky)")


def _with_cases(snapshot: ResultSnapshot, cases: tuple[RunRecord, ...]) -> ResultSnapshot:
    """A Freeplay snapshot carries criteria; the per-case records come from the target runs."""
    return replace(snapshot, runs=cases, total_runs=len(cases)) if cases else snapshot


async def _run_gate(state: _GateState, provider: Provider, shared: _Shared) -> None:
    spec = state.spec
    clock = shared.clock
    async with shared.limiter:
        state.t0 = clock.now()
        deadline = min(state.t0 + spec.timeout, shared.overall_deadline)
        pause = shared.pause_for(provider.name)
        retried = _Retrier(spec, shared, RetryBudget(shared.defaults.retry.budget), deadline, pause)

        def on_snapshot(snapshot: ResultSnapshot) -> None:
            state.last = _with_cases(snapshot, state.cases)
            shared.events.snapshot(spec, state.last)

        def on_probe(ended: int, total: int) -> None:
            # Progress lines (status, heartbeat) between reads of the whole result; never kept as data.
            seen = state.last
            status = seen.status if seen is not None else (state.started.status if state.started else "")
            result_id = state.started.result_id if state.started is not None else "?"
            shared.events.snapshot(
                spec, ResultSnapshot(result_id, status, False, False, total_runs=total, completed_runs=ended)
            )

        def on_cases(records: tuple[RunRecord, ...]) -> None:
            state.cases = records
            result_id = state.started.result_id if state.started is not None else "?"
            base = state.last or ResultSnapshot(result_id, "in-progress", False, False)
            state.last = _with_cases(base, records)

        try:
            prior = shared.auth_failures.get(provider.name)
            if prior is not None:
                raise AuthError(f"not started: {provider.name} refused the key for gate {prior}")
            state.started = started = await _start(spec, provider, retried)
            shared.events.gate_started(spec, state.target, started)
            try:
                state.share_url = await provider.share_link(started)
            except ProviderError as exc:  # a link is a convenience; never fail a gate for it
                log.debug("no shareable link for result %s: %s", started.result_id, exc.message)
            if isinstance(spec, FreeplayGate) and spec.target is not None:
                await execute_cases(
                    spec, started, provider, retried=retried, seconds_left=deadline - clock.now(),
                    on_records=on_cases, note=lambda text: shared.events.note(spec, text),
                )  # fmt: skip
            await poll_until_terminal(
                lambda: provider.poll(started),
                poll=shared.defaults.poll, retry=shared.defaults.retry, budget=retried.budget, clock=clock,
                rng=shared.rng, deadline=deadline, pause=pause, on_snapshot=on_snapshot,
                on_retry=retried.on_retry, probe=partial(provider.probe, started),
                total_hint=started.run_count, on_probe=on_probe,
                status_filter=shared.status_filter_for(provider.name),
            )  # fmt: skip
            if (
                isinstance(spec, CekuraGate)
                and spec.retries
                and state.last is not None
                and state.last.succeeded
            ):
                await _retry_failed(state, spec, provider, shared, retried, deadline)
        except PollTimeout as exc:
            if exc.last is not None:  # keep the executed test cases (Freeplay) with the last answer
                state.last = _with_cases(exc.last, state.cases)
            which = "overall" if deadline == shared.overall_deadline else "gate"
            status = f" (last status: {state.last.status})" if state.last is not None else ""
            cause = f"; the platform kept failing: {exc.last_error}" if exc.last_error else ""
            if exc.in_flight:
                cause += "; the request in flight was cut at the deadline"
            state.failure = GateFailure(
                FailureKind.TIMEOUT,
                f"{which} deadline of {format_duration(deadline - state.t0)} reached before the result "
                f"finished{status}{cause}",
            )
        except PollGaveUp as exc:
            if exc.last is not None:
                state.last = _with_cases(exc.last, state.cases)
            state.failure = _failure(exc)
        except AuthError as exc:
            first = shared.auth_failures.setdefault(provider.name, spec.name)
            if first == spec.name:
                state.failure = _failure(exc)
            else:  # explained once per provider: the same key was refused for another gate
                state.failure = GateFailure(FailureKind.AUTH, f"refused like gate {first}: {exc.message}")
        except Exception as exc:
            log.debug("gate %s failed", spec.name, exc_info=True)
            state.failure = _failure(exc)
        finally:
            state.t1 = clock.now()
        state.finished = True
        shared.events.gate_done(spec, state.execution(clock.now(), None))
        # A gate that gave up on its own ends its calls now, so they do not run (and bill) while other
        # gates go on. At the overall deadline every gate stops at once: the reports come first, and
        # the clean-up after them ends the calls of all of them.
        if state.failure is not None and clock.now() < shared.overall_deadline:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
                await _end_remote(state, provider)


async def execute(
    config: Config,
    providers: Mapping[str, Provider],
    *,
    clock: Clock,
    events: Events,
    on_finished: Callable[[RunSummary], None],
    rng: random.Random | None = None,
    watch_signals: bool = True,
) -> RunSummary:
    """Run every gate of ``config``; call ``on_finished`` (reports) before ending remote calls."""
    start = clock.now()
    overall = config.defaults.overall_timeout
    shared = _Shared(
        clock=clock,
        rng=rng or random.Random(),  # noqa: S311 - jitter, not cryptography
        events=events,
        limiter=anyio.CapacityLimiter(config.defaults.concurrency),
        overall_deadline=start + overall if overall is not None else math.inf,
        defaults=config.defaults,
    )
    states = [_GateState(spec, providers[spec.provider].describe_target(spec)) for spec in config.gates]
    interrupted: list[str] = []
    cleanup_scope = anyio.CancelScope()
    summary: RunSummary | None = None

    async with anyio.create_task_group() as outer:
        work_scope = anyio.CancelScope()
        if watch_signals:
            outer.start_soon(_watch_signals, work_scope, cleanup_scope, interrupted, events)
        with work_scope:
            async with anyio.create_task_group() as tg:
                for state in states:
                    tg.start_soon(_run_gate, state, providers[state.spec.provider], shared)
        with anyio.CancelScope(shield=True):
            interrupted_by = interrupted[0] if interrupted else None
            now = clock.now()
            summary = RunSummary(
                executions=tuple(s.execution(now, interrupted_by) for s in states),
                interrupted_by=interrupted_by,
                duration_s=max(0.0, now - start),
            )
            on_finished(summary)
            with cleanup_scope, anyio.move_on_after(CLEANUP_SECONDS):
                async with anyio.create_task_group() as cleanup:
                    for state in states:
                        cleanup.start_soon(_end_remote, state, providers[state.spec.provider])
            await anyio.lowlevel.checkpoint()  # let the watcher take a signal that arrived meanwhile
            if interrupted and summary.interrupted_by is None:
                # A signal while the reports were written or the calls ended: the run was interrupted
                # after all. The gates' results stand; the reports are written again to say so, so that
                # they and the exit code (130/143) agree.
                summary = replace(summary, interrupted_by=interrupted[0])
                on_finished(summary)
        outer.cancel_scope.cancel()
    assert summary is not None  # noqa: S101 - set in the shielded block above, which cannot be skipped
    return summary


async def _watch_signals(
    work_scope: anyio.CancelScope, cleanup_scope: anyio.CancelScope, interrupted: list[str], events: Events
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for signum in signals:
            name = SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}")
            if not interrupted:
                interrupted.append(name)
                events.interrupted(name)
                work_scope.cancel()
            else:  # a second signal: stop waiting for remote clean-up
                cleanup_scope.cancel()


__all__ = ["Events", "RunSummary", "execute"]
