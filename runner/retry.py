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
- A circuit breaker per provider (also ``ProviderPause``): after ``breaker_threshold`` consecutive
  transient failures of any of its calls, every call of that provider waits ``breaker_cooldown`` before
  the next try; the first failure after that opens it again, a success closes it. So a platform that
  answers 503 to everything sees a bounded request rate, however many gates wait on it — and a gate
  whose deadline falls inside the pause ends as a timeout, never as a pass.
- Everything else (auth, rejected, protocol, start-outcome-unknown) propagates at once.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import anyio

from runner.clock import Clock
from runner.errors import DeadlineExceeded, ProbeUnsupported, RateLimited, TransientError
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
    """Provider-wide flow control shared by all its gates: a request-rate ceiling, the 429 pause and a
    circuit breaker.

    Rate: at most ``rate`` requests per second leave for this provider (evenly spaced slots, so hundreds
    of gates never burst together). A 429 halves the current rate (down to ``MIN_RATE``); every answered
    request wins back a twentieth of the ceiling (additive increase, multiplicative decrease: the rate
    settles just under what the platform accepts). ``rate=None``: no ceiling.

    Breaker states: *closed* (calls go through; consecutive transient failures are counted), *open*
    (``threshold`` failures in a row: every call waits ``cooldown``), *half-open* (after the cooldown one
    call goes through as a probe while the others wait for its outcome: a success closes the breaker, a
    failure opens it again).
    """

    MIN_RATE = 0.5  # requests per second: the floor a run of 429s slows down to

    def __init__(self, *, threshold: int = 10, cooldown: float = 30.0, rate: float | None = None) -> None:
        self.ceiling = rate
        self.rate = rate
        self._next_slot = 0.0
        self.slowdowns = 0  # how often a 429 lowered the rate (for reports and tests)
        self.until = 0.0
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0  # consecutive transient failures while closed
        self.opened = 0  # how often the breaker opened (for reports and tests)
        self._tripped = False  # open or half-open
        self._probe: anyio.Event | None = None  # set while a half-open probe is in flight

    def extend(self, until: float) -> None:
        self.until = max(self.until, until)

    def released(self) -> None:
        """The call in flight ended without an answer about the platform's health (it was cancelled):
        let another call be the probe."""
        self._settle_probe()

    def _settle_probe(self) -> None:
        if self._probe is not None:
            self._probe.set()
            self._probe = None

    def slow_down(self) -> None:
        """A 429: halve the rate."""
        if self.rate is not None:
            self.rate = max(self.MIN_RATE, self.rate / 2)
            self.slowdowns += 1

    def succeeded(self) -> None:
        if self.rate is not None and self.ceiling is not None:
            self.rate = min(self.ceiling, self.rate + self.ceiling / 20)
        self.failures = 0
        self._tripped = False
        self._settle_probe()

    def failed(self, clock: Clock) -> None:
        if self._tripped:  # the half-open probe failed: open again
            self.extend(clock.now() + self.cooldown)
            self.opened += 1
            self._settle_probe()
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.extend(clock.now() + self.cooldown)
            self.opened += 1
            self.failures = 0
            self._tripped = True

    async def wait(self, clock: Clock, deadline: float) -> None:
        """Wait for the pause to end, the breaker to let this call through, and a slot of the rate ceiling.
        After waiting for its slot a call checks the pause and the breaker again: one that opened while it
        waited must hold it back too."""
        granted = self.rate is None
        while True:
            remaining = self.until - clock.now()
            if remaining > 0:
                if clock.now() + remaining > deadline:
                    raise DeadlineExceeded(
                        "the deadline falls inside the provider's pause (rate limit or failures)"
                    )
                await clock.sleep(remaining)
                continue
            if self._tripped:
                if self._probe is None:  # half-open: this call is the probe
                    self._probe = anyio.Event()
                    return
                await self._probe.wait()
                continue
            if granted or self.rate is None:
                return
            now = clock.now()
            slot = max(now, self._next_slot)
            if slot > deadline:
                raise DeadlineExceeded(
                    "the deadline falls after the provider's next request slot (rate limit)"
                )
            self._next_slot = slot + 1.0 / self.rate
            granted = True
            if slot > now:
                await clock.sleep(slot - now)


RetryHook = Callable[[TransientError, int, float], None]


class RetryDeadline(DeadlineExceeded):
    """The deadline ended the retries: while waiting, or with a request still in flight."""

    def __init__(self, message: str, *, last_error: str | None, in_flight: bool = False) -> None:
        super().__init__(message if last_error is None else f"{message}; last error: {last_error}")
        self.last_error = last_error
        self.in_flight = in_flight


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
    """Run ``call``; on ``TransientError`` wait and try again within attempts, budget and deadline.

    The deadline also bounds a request in flight (httpx's own timeouts are per phase and may add up past
    it): the call is cancelled when the deadline passes and ``RetryDeadline`` says why.
    """
    attempt = 0
    last_error: str | None = None
    while True:
        if pause is not None:
            try:
                await pause.wait(clock, deadline)
            except DeadlineExceeded as exc:
                raise RetryDeadline(str(exc), last_error=last_error) from exc
        try:
            with anyio.move_on_after(max(0.0, deadline - clock.now())) as in_flight:
                result = await call()
            if in_flight.cancelled_caught:
                raise RetryDeadline(
                    "the deadline passed while a request was in flight", last_error=last_error, in_flight=True
                )
        except TransientError as exc:
            last_error = exc.message
            if pause is not None:
                pause.failed(clock)
            attempt += 1
            delay = backoff_delay(attempt - 1, policy, rng)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, policy.max_retry_after))
            if isinstance(exc, RateLimited) and pause is not None:
                pause.extend(clock.now() + delay)
                pause.slow_down()
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
        except (RetryDeadline, ProbeUnsupported):
            if pause is not None:
                pause.released()  # no answer about the platform's health (a refused probe may ask nothing)
            raise
        except Exception:
            if pause is not None:
                pause.succeeded()  # the platform answered (a rejection is not an outage)
            raise
        except BaseException:
            if pause is not None:
                pause.released()  # cancelled: never leave other calls waiting on this one
            raise
        else:
            if pause is not None:
                pause.succeeded()
            return result
