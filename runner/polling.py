"""Polling one result toward a terminal status under a deadline.

The delay before poll ``n`` is a pure function (capped exponential with "equal jitter": half fixed, half
random, so polls never bunch up at zero delay); waiting goes through the injected ``Clock``. A poll that
still fails after ``retry.call_with_retry`` gave up is not fatal while the gate's retry budget lasts: the
next poll is a natural retry. A poll is idempotent, so a garbled answer (``ProtocolError``: a proxy page,
a cut body) is asked again like any transient failure, within the same budget. The loop always ends: at a
terminal status, or at the deadline with ``PollTimeout`` carrying the last snapshot seen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable

from runner.clock import Clock
from runner.errors import DeadlineExceeded, ProtocolError, TransientError
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


def poll_delay(poll_index: int, policy: PollPolicy, rng: random.Random) -> float:
    """Delay before poll number ``poll_index`` (0 = the first poll after start)."""
    base = min(policy.maximum, policy.initial * math.pow(policy.multiplier, min(poll_index, 60)))
    return base / 2.0 + rng.uniform(0.0, base / 2.0)


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
) -> ResultSnapshot:
    async def ask() -> ResultSnapshot:
        try:
            return await poll_once()
        except ProtocolError as exc:
            raise TransientError(f"{exc.message} (asking again)") from exc

    last: ResultSnapshot | None = None
    last_error: str | None = None  # cleared by every answer
    index = 0
    while True:
        delay = poll_delay(index, poll, rng)
        index += 1
        remaining = deadline - clock.now()
        if remaining <= 0:
            raise PollTimeout(
                "deadline reached while waiting for a terminal status", last=last, last_error=last_error
            )
        await clock.sleep(min(delay, remaining))
        if clock.now() >= deadline:
            raise PollTimeout(
                "deadline reached while waiting for a terminal status", last=last, last_error=last_error
            )
        try:
            snapshot = await call_with_retry(
                ask,
                policy=retry,
                budget=budget,
                clock=clock,
                rng=rng,
                deadline=deadline,
                pause=pause,
                on_retry=on_retry,
            )
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
        last, last_error = snapshot, None
        if on_snapshot is not None:
            on_snapshot(snapshot)
        if snapshot.terminal:
            return snapshot
