"""Polling one result toward a terminal status under a deadline.

The delay before the next poll is a pure function of what the polls saw (``next_delay``), and adapts to the
result's progress: while nothing has finished it backs off exponentially from ``poll.initial`` (capped at
``poll.max``); once runs finish, it estimates when the last one will (``remaining / rate``, the rate from
the first and the latest poll that counted finished runs) and waits 80% of that, within
``poll.min``-``poll.max``: rarely while the end is far, promptly as it nears. The last tenth of the runs ends
at random moments (the gap before the last one is as long as the whole rate predicts), so there the delay
is at most ``8 x poll.min``; once every unfinished run is being evaluated (its verdict is seconds away), or
every run is done and only the result's own status is awaited, it is ``poll.min``. Every delay is
shortened by up to 20% at random, so that hundreds of results never poll in lockstep and no delay exceeds
``poll.max``. Waiting goes through the injected ``Clock``. A poll that still fails after
``retry.call_with_retry`` gave up is not fatal while the gate's retry budget lasts: the next poll is a
natural retry. A poll is idempotent, so a garbled answer (``ProtocolError``: a proxy page,
a cut body) is asked again like any transient failure, within the same budget. The loop always ends: at a
terminal status, or at the deadline with ``PollTimeout`` carrying the last snapshot seen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from runner.clock import Clock
from runner.errors import DeadlineExceeded, ProbeUnsupported, ProtocolError, TransientError
from runner.model import ResultSnapshot
from runner.retry import ProviderPause, RetryBudget, call_with_retry
from runner.settings import PollPolicy, RetryPolicy


class PollTimeout(DeadlineExceeded):
    """The deadline passed before the result reached a terminal status."""

    def __init__(self, message: str, *, last: ResultSnapshot | None, last_error: str | None = None) -> None:
        super().__init__(message)
        self.last = last
        self.last_error = last_error  # the transient failure that was still going on, if any
        self.in_flight = False  # the deadline cut a request that was waiting for its answer


class PollGaveUp(TransientError):
    """Polling failed transiently more often than the retry budget allows."""

    def __init__(self, message: str, *, last: ResultSnapshot | None) -> None:
        super().__init__(message)
        self.last = last


JITTER = 0.2  # each delay is shortened by up to this share, at random
AIM = 0.8  # the share of the predicted wait to sleep: each poll closes 80% of the distance to the end
TAIL = 0.1  # the last 10% of the runs (at least one): their end is random, poll no slower than...
TAIL_POLLS = 8  # ...this many poll.min, so that the last run's evaluation is caught as it starts

Progress = tuple[float, int, int, bool]  # (clock time of a poll, runs finished, runs in all, closing)


def backoff(poll_index: int, policy: PollPolicy) -> float:
    """Capped exponential delay before poll number ``poll_index`` (0 = the first poll after start)."""
    return min(policy.maximum, policy.initial * math.pow(policy.multiplier, min(poll_index, 60)))


def predicted_wait(first: Progress | None, latest: Progress | None, now: float) -> float | None:
    """Seconds until the last run should finish, from the rate runs finished at; None: no rate yet."""
    if latest is None:
        return None
    _, done, total, closing = latest
    if (total > 0 and done >= total) or closing:
        return 0.0  # every run is done, or every unfinished one is being evaluated: the end is near
    if first is None or done <= first[1] or latest[0] <= first[0]:
        return None
    rate = (done - first[1]) / (latest[0] - first[0])
    return max(0.0, (total - done) / rate - (now - latest[0]))


def next_delay(
    poll_index: int,
    policy: PollPolicy,
    rng: random.Random,
    first: Progress | None,
    latest: Progress | None,
    now: float,
) -> float:
    """The delay before the next poll (see the module docstring)."""
    wait = predicted_wait(first, latest, now)
    if wait is None:
        delay = backoff(poll_index, policy)
    else:
        delay = min(policy.maximum, max(policy.minimum, wait * AIM))
        if latest is not None and latest[2] - latest[1] <= max(1, int(latest[2] * TAIL)):
            delay = min(delay, TAIL_POLLS * policy.minimum)
    return delay * (1.0 - rng.uniform(0.0, JITTER))


def poll_delay(poll_index: int, policy: PollPolicy, rng: random.Random) -> float:
    """Delay before poll number ``poll_index`` when nothing is known of the result's progress."""
    return next_delay(poll_index, policy, rng, None, None, 0.0)


def progress_of(snapshot: ResultSnapshot, now: float) -> Progress | None:
    total = snapshot.total_runs if snapshot.total_runs is not None else len(snapshot.runs) or None
    done = snapshot.completed_runs
    if total is None or done is None or total <= 0:
        return None
    unfinished = [run for run in snapshot.runs if not run.terminal]
    closing = bool(unfinished) and all(run.status == "evaluating" for run in unfinished)
    return (now, min(done, total), total, closing)


# With a probe, the whole result is read at least every FRESH_POLLS x poll.max (fresh partial runs for an
# interruption), unless the end is predicted within SOON_POLLS x poll.max (its read comes then anyway)...
FRESH_POLLS = 20
SOON_POLLS = 4
LAST_STRETCH_POLLS = 2  # ...and on every poll once the deadline is this many poll.max away


def _detail_due(
    probing: bool,
    total: int | None,
    closing: bool,
    since_detail: float,
    until_deadline: float,
    policy: PollPolicy,
    end_in: float | None,
) -> bool:
    """Whether this poll reads the whole result rather than only probing how many runs are still calling.
    ``end_in``: the predicted wait until the last run finishes (None: no prediction yet)."""
    return (
        not probing
        or total is None  # nothing to measure the probe's count against yet
        or closing  # every call has ended: the result's own status and verdicts come with the detail
        or (
            since_detail >= FRESH_POLLS * policy.maximum
            and (end_in is None or end_in > SOON_POLLS * policy.maximum)
        )
        or until_deadline <= LAST_STRETCH_POLLS * policy.maximum  # a timeout keeps the runs seen last
    )


class StatusFilter:
    """Whether a provider's runs list is known to honour the probe's status filter.

    That is a property of the platform, not of a result: once the first two counts of one result added up
    (see ``poll_until_terminal``), the provider's other results skip the first of them, one request each.
    A result whose counts do not add up stops probing on its own; the others still check for themselves."""

    def __init__(self) -> None:
        self.verified = False


class Probe(Protocol):
    """Counts the result's runs whose call has not ended (or, with ``ended=True``, has), in one request."""

    def __call__(self, *, ended: bool = False) -> Awaitable[int]: ...


async def poll_until_terminal(
    poll_once: Callable[[], Awaitable[ResultSnapshot]],
    *,
    poll: PollPolicy,
    retry: RetryPolicy,
    budget: RetryBudget,
    clock: Clock,
    rng: random.Random,
    deadline: float,
    pause: ProviderPause | None = None,
    on_snapshot: Callable[[ResultSnapshot], None] | None = None,
    on_retry: Callable[[TransientError, int, float], None] | None = None,
    probe: Probe | None = None,
    total_hint: int | None = None,
    on_probe: Callable[[int, int], None] | None = None,
    status_filter: StatusFilter | None = None,
) -> ResultSnapshot:
    """Poll until the result is terminal (see the module docstring).

    ``probe`` (optional) counts the runs that have not ended their call in one small request; while it
    says calls are going on, most polls are probes, and the whole result (``poll_once``) is read only
    from the moment every call has ended, near the deadline, and now and then for fresh partial runs
    (see ``FRESH_POLLS``): so a gate of 100 runs reads its result a few times instead of on every poll.
    Which of the two a poll makes never changes the verdict, which always comes from ``poll_once``. The
    first probe counts the runs whose call has *ended* and the next, at once, those still calling: on a
    platform that ignores the status filter both count every run, so the two add up to more than the
    result has and the probe is not trusted. Nor is it asked again when the platform cannot answer it
    (``ProbeUnsupported``) or when any count contradicts what is known (more runs calling than have not
    ended, at the last count or read of the whole result). ``status_filter``: shared by the results of one
    provider; once one of them found the filter honoured, the others skip the first count.
    ``total_hint``: the runs the start announced, until a poll says. ``on_probe(ended, total)``: what a
    probe found (runs whose call has ended), for progress lines between reads of the whole result."""

    async def ask() -> ResultSnapshot:
        try:
            return await poll_once()
        except ProtocolError as exc:
            raise TransientError(f"{exc.message} (asking again)") from exc

    async def ask_probe(ended: bool) -> int:
        assert probe is not None  # noqa: S101 - only called while probing
        try:
            return await probe(ended=ended)
        except ProtocolError as exc:
            raise TransientError(f"{exc.message} (asking again)") from exc

    async def ask_calling() -> int:
        return await ask_probe(False)

    async def ask_ended() -> int:
        return await ask_probe(True)

    last: ResultSnapshot | None = None
    last_error: str | None = None  # cleared by every answer
    first: Progress | None = None  # the first poll that counted finished runs, and the latest
    latest: Progress | None = None
    probing = probe is not None
    total = total_hint if total_hint is not None and total_hint > 0 else None
    closing = False  # a poll saw every call ended: from then on each poll reads the whole result
    finished = 0  # runs known to have ended their call (by a read or a count): no probe counts them calling
    count_ended = True  # the first probe counts the runs that have ended (see the docstring)...
    checking = False  # ...and the count right after it, of those calling, settles the check
    last_detail = clock.now()
    index = 0
    at_once = False  # poll again now, without waiting: the whole result when the probe could not answer
    # or found every call ended, the runs still calling right after a count of those that have ended
    while True:
        if not at_once:
            delay = next_delay(index, poll, rng, first, latest, clock.now())
            index += 1
            remaining = deadline - clock.now()
            if remaining <= 0:
                raise PollTimeout(
                    "deadline reached while waiting for a terminal status", last=last, last_error=last_error
                )
            await clock.sleep(min(delay, remaining))
        at_once = False
        if clock.now() >= deadline:
            raise PollTimeout(
                "deadline reached while waiting for a terminal status", last=last, last_error=last_error
            )
        call: Callable[[], Awaitable[ResultSnapshot | int]] = ask
        now = clock.now()
        end_in = predicted_wait(first, latest, now)
        if not _detail_due(probing, total, closing, now - last_detail, deadline - now, poll, end_in):
            if count_ended and status_filter is not None and status_filter.verified:
                count_ended = False
            call = ask_ended if count_ended else ask_calling
        try:
            answer = await call_with_retry(
                call,
                policy=retry,
                budget=budget,
                clock=clock,
                rng=rng,
                deadline=deadline,
                pause=pause,
                on_retry=on_retry,
            )
        except ProbeUnsupported:
            probing, at_once = False, True  # asked no more
            continue
        except DeadlineExceeded as exc:
            cause = getattr(exc, "last_error", None) or last_error
            timeout = PollTimeout(str(exc), last=last, last_error=cause)
            timeout.in_flight = getattr(exc, "in_flight", False)
            raise timeout from exc
        except TransientError as exc:
            last_error = exc.message
            if clock.now() >= deadline:
                raise PollTimeout(
                    "deadline reached while the platform was failing", last=last, last_error=last_error
                ) from exc
            if not budget.take():
                raise PollGaveUp(f"polling kept failing: {exc.message}", last=last) from exc
            if on_retry is not None:
                on_retry(exc, 0, 0.0)
            continue
        last_error = None
        if isinstance(answer, int) and call is ask_ended:
            if total is None or answer > total:
                probing, at_once = False, True  # more runs than the result has: read it whole instead
                continue
            # Runs only move from calling to ended: no later count of those calling may exceed the rest.
            finished, count_ended, checking, at_once = max(finished, answer), False, True, True
            continue
        if isinstance(answer, int):
            if total is None or answer > total - finished:
                # More runs calling than the result has, or than have not ended at the last count or read:
                # a platform that ignores the filters. Read the whole result instead, from now on.
                probing, at_once = False, True
                continue
            if checking and status_filter is not None:
                status_filter.verified = True  # the two counts added up: the platform filters by status
            checking = False
            seen: Progress | None = (clock.now(), total - answer, total, answer == 0)
            closing = answer == 0
            if on_probe is not None:
                on_probe(total - answer, total)
            # Every call has ended: the result may already be terminal (its last evaluation can be
            # quicker than a poll delay), so read it now rather than a poll.min later.
            at_once = closing
        else:
            last, last_detail = answer, clock.now()
            terminal = sum(1 for run in answer.runs if run.terminal)
            finished = max(finished, answer.completed_runs or 0, terminal)
            seen = progress_of(answer, clock.now())
            if seen is not None:
                total = seen[2]
                closing = seen[1] >= seen[2] or seen[3]
        if seen is not None:
            latest = seen
            if first is None or (first[1] == 0 and seen[1] == 0):
                first = seen  # the rate is measured from the last poll before runs started finishing
        if isinstance(answer, int):
            continue
        if on_snapshot is not None:
            on_snapshot(answer)
        if answer.terminal:
            return answer
