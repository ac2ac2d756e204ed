"""Retrying one request for transient reasons (design.md §7), in the style of stamina.

One layer only: providers make exactly one HTTP call per method and raise typed errors; this module
decides whether and when to try again. Delays are pure functions of the attempt number and an injected
``random.Random``; waiting goes through the injected ``Clock``.

Rules:
- ``TransientError`` (connect/read errors, 408, 429, 5xx) is retried up to ``RetryPolicy.attempts`` per
  call and ``RetryPolicy.budget`` per gate, never past the deadline.
- Delay = full jitter over a capped exponential (``uniform(0, min(maximum, base * 2**n))``), but never
  less than the server's ``Retry-After`` (clamped to ``max_retry_after``).
- A 429 pauses every request of the same provider until its Retry-After has passed (``ProviderPause``).
- Everything else (auth, rejected, protocol, start-outcome-unknown) propagates at once.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from runner.clock import Clock
from runner.errors import DeadlineExceeded, RateLimited, TransientError
from runner.settings import RetryPolicy

T = TypeVar("T")


def backoff_delay(retry_index: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter delay before retry number ``retry_index`` (0-based)."""
    ceiling = min(policy.maximum, policy.base * math.pow(2.0, min(retry_index, 30)))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After``: delta-seconds or an HTTP date; ``None`` if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class RetryBudget:
    """Retries left for one gate; shared by all of that gate's calls."""

    def __init__(self, total: int) -> None:
        self.remaining = total
        self.used = 0

    def take(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        self.used += 1
        return True


class ProviderPause:
    """A provider-wide pause after a 429, so parallel gates stop hammering a rate-limited API."""

    def __init__(self) -> None:
        self.until = 0.0

    def extend(self, until: float) -> None:
        self.until = max(self.until, until)

    async def wait(self, clock: Clock, deadline: float) -> None:
        remaining = self.until - clock.now()
        if remaining > 0:
            if clock.now() + remaining > deadline:
                raise DeadlineExceeded("the deadline falls inside the provider's rate-limit pause")
            await clock.sleep(remaining)


RetryHook = Callable[[TransientError, int, float], None]


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    budget: RetryBudget,
    clock: Clock,
    rng: random.Random,
    deadline: float,
    pause: ProviderPause | None = None,
    on_retry: RetryHook | None = None,
) -> T:
    """Run ``call``; on ``TransientError`` wait and try again within attempts, budget and deadline."""
    attempt = 0
    while True:
        if pause is not None:
            await pause.wait(clock, deadline)
        try:
            return await call()
        except TransientError as exc:
            attempt += 1
            delay = backoff_delay(attempt - 1, policy, rng)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, policy.max_retry_after))
            if isinstance(exc, RateLimited) and pause is not None:
                pause.extend(clock.now() + delay)
            if attempt >= policy.attempts:
                raise
            if clock.now() + delay >= deadline:
                raise
            if not budget.take():
                raise
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            if pause is None or not isinstance(exc, RateLimited):
                await clock.sleep(delay)
