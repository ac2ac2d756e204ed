"""Retrying one request: full-jitter backoff, Retry-After, attempts, budget, deadline, provider pause."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import anyio
import pytest

from runner.clock import FakeClock
from runner.errors import AuthError, DeadlineExceeded, ProbeUnsupported, RateLimited, TransientError
from runner.retry import ProviderPause, RetryBudget, backoff_delay, call_with_retry, parse_retry_after
from runner.settings import RetryPolicy

NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("3", 3.0, id="delta-seconds"),
        pytest.param(" 1.5 ", 1.5, id="fractional-seconds-with-spaces"),
        pytest.param("Thu, 26 Nov 2026 10:00:30 GMT", 30.0, id="http-date"),
        pytest.param("Thu, 26 Nov 2026 09:59:00 GMT", 0.0, id="http-date-in-the-past-is-zero"),
        pytest.param("-4", 0.0, id="negative-is-zero"),
        pytest.param("soon", None, id="garbage-is-ignored"),
        pytest.param("", None, id="empty-is-ignored"),
        pytest.param(None, None, id="absent"),
        pytest.param("nan", None, id="nan-is-ignored"),
    ],
)
def test_retry_after_accepts_both_forms(header: str | None, expected: float | None) -> None:
    """Retry-After is read as delta-seconds or as an HTTP date; anything else is ignored, never negative."""
    assert parse_retry_after(header, now=NOW) == expected


def test_backoff_is_full_jitter_below_a_capped_exponential() -> None:
    """Delay n is uniform in [0, min(maximum, base * 2**n)]."""
    policy = RetryPolicy(base=1.0, maximum=8.0)
    rng = random.Random(1)
    for index, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (500, 8.0)]:
        delays = [backoff_delay(index, policy, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread, not a constant


class Flaky:
    def __init__(self, failures: list[Exception], value: str = "ok") -> None:
        self.failures = failures
        self.calls = 0
        self.value = value

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.value


async def _run(call: Flaky, *, policy: RetryPolicy | None = None, budget: int = 10, deadline: float = 1e9,
               clock: FakeClock | None = None, pause: ProviderPause | None = None) -> str:  # fmt: skip
    return await call_with_retry(
        call, policy=policy or RetryPolicy(attempts=3, base=1.0, maximum=4.0), budget=RetryBudget(budget),
        clock=clock or FakeClock(), rng=random.Random(0), deadline=deadline, pause=pause,
    )  # fmt: skip


@pytest.mark.anyio
async def test_transient_failures_are_retried_until_success() -> None:
    """Two 503s then a success: three calls, the value comes back."""
    call = Flaky([TransientError("503"), TransientError("503")])
    assert await _run(call) == "ok"
    assert call.calls == 3


@pytest.mark.anyio
async def test_attempts_are_capped() -> None:
    """After `attempts` tries the last transient error propagates."""
    call = Flaky([TransientError("1"), TransientError("2"), TransientError("3"), TransientError("4")])
    with pytest.raises(TransientError, match="3"):
        await _run(call)
    assert call.calls == 3


@pytest.mark.anyio
async def test_the_gate_budget_is_shared_and_finite() -> None:
    """With a budget of one retry, the second transient failure propagates."""
    call = Flaky([TransientError("1"), TransientError("2")])
    with pytest.raises(TransientError, match="2"):
        await _run(call, budget=1)


@pytest.mark.anyio
@pytest.mark.parametrize("error", [AuthError("401"), ValueError("bug")], ids=["auth", "bug"])
async def test_non_transient_errors_are_never_retried(error: Exception) -> None:
    call = Flaky([error])
    with pytest.raises(type(error)):
        await _run(call)
    assert call.calls == 1


@pytest.mark.anyio
async def test_retry_after_is_honoured_and_clamped() -> None:
    """A 429 with Retry-After: 7 waits at least 7 s; one with 10000 waits at most max_retry_after."""
    clock = FakeClock()
    call = Flaky([RateLimited("429", retry_after=7.0), RateLimited("429", retry_after=10_000.0)])
    await _run(call, clock=clock, policy=RetryPolicy(attempts=5, base=0.1, maximum=0.2, max_retry_after=60.0))
    assert clock.sleeps[0] >= 7.0
    assert clock.sleeps[1] == 60.0


@pytest.mark.anyio
async def test_no_retry_past_the_deadline() -> None:
    """A retry whose delay would end after the deadline is not attempted."""
    clock = FakeClock(start=0.0)
    call = Flaky([RateLimited("429", retry_after=30.0)])
    with pytest.raises(RateLimited):
        await _run(call, clock=clock, deadline=10.0)
    assert clock.sleeps == []


@pytest.mark.anyio
async def test_a_429_pauses_every_caller_of_the_provider() -> None:
    """After one caller sees 429 with Retry-After 5, another caller of the same provider waits too."""
    clock = FakeClock(start=0.0)
    pause = ProviderPause()
    await _run(Flaky([RateLimited("429", retry_after=5.0)]), clock=clock, pause=pause)
    assert pause.until >= 5.0
    clock._now = 1.0
    other = Flaky([])
    await _run(other, clock=clock, pause=pause)
    assert clock.now() >= pause.until


@pytest.mark.anyio
async def test_the_breaker_opens_after_consecutive_failures_and_pauses_every_caller() -> None:
    """Three transient failures in a row (threshold 3) open the breaker: the next call waits the cooldown."""
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=3, cooldown=60.0)
    policy = RetryPolicy(attempts=3, base=0.1, maximum=0.1)
    with pytest.raises(TransientError):
        await _run(Flaky([TransientError("503")] * 3), clock=clock, pause=pause, policy=policy)
    assert pause.opened == 1 and pause.until >= 60.0
    before = clock.now()
    await _run(Flaky([]), clock=clock, pause=pause)  # a healthy call still waits for the cooldown
    assert clock.now() - before >= 60.0 - 1.0
    assert pause.failures == 0 and pause.opened == 1  # the probe succeeded: closed again


@pytest.mark.anyio
async def test_a_failed_probe_opens_the_breaker_again_and_only_one_call_probes() -> None:
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=1, cooldown=30.0)
    pause.failed(clock)  # open
    calls: list[str] = []

    async def probe() -> str:
        calls.append("probe")
        raise TransientError("still down")

    async def other() -> str:
        calls.append("other")
        return "ok"

    with pytest.raises(TransientError):
        await call_with_retry(probe, policy=RetryPolicy(attempts=1), budget=RetryBudget(0), clock=clock,
                              rng=random.Random(0), deadline=1e9, pause=pause)  # fmt: skip
    assert pause.opened == 2 and pause.until >= 60.0  # opened again, a full cooldown later
    assert await call_with_retry(other, policy=RetryPolicy(), budget=RetryBudget(5), clock=clock,
                                 rng=random.Random(0), deadline=1e9, pause=pause) == "ok"  # fmt: skip
    assert calls == ["probe", "other"]


@pytest.mark.anyio
async def test_a_deadline_inside_the_open_breaker_fails_closed() -> None:
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=1, cooldown=300.0)
    pause.failed(clock)
    with pytest.raises(DeadlineExceeded):
        await _run(Flaky([]), clock=clock, pause=pause, deadline=60.0)


@pytest.mark.anyio
async def test_a_progress_probe_refused_without_asking_does_not_close_the_breaker() -> None:
    """A provider that cannot probe (Freeplay, or Cekura after a refusal) raises ProbeUnsupported without
    a request: while half-open that says nothing of the platform's health, so the breaker stays tripped
    and the next call is the probe."""
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=2, cooldown=30.0)
    pause.failed(clock)
    pause.failed(clock)  # open
    clock.advance(31.0)  # half-open

    async def cannot() -> str:
        raise ProbeUnsupported("no probe here")

    with pytest.raises(ProbeUnsupported):
        await call_with_retry(cannot, policy=RetryPolicy(), budget=RetryBudget(5), clock=clock,
                              rng=random.Random(0), deadline=1e9, pause=pause)  # fmt: skip
    down = Flaky([TransientError("still down")])
    with pytest.raises(TransientError):
        await call_with_retry(down, policy=RetryPolicy(attempts=1), budget=RetryBudget(0), clock=clock,
                              rng=random.Random(0), deadline=1e9, pause=pause)  # fmt: skip
    assert pause.opened == 2  # that call was the half-open probe: its failure opened the breaker again


def test_a_rejection_is_not_an_outage() -> None:
    """Non-transient answers (401, 404, garbage) mean the platform is up: they close the breaker."""
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=2, cooldown=30.0)
    pause.failed(clock)
    pause.succeeded()
    pause.failed(clock)
    assert pause.opened == 0


@pytest.mark.anyio
async def test_while_half_open_callers_go_one_at_a_time() -> None:
    """Five gates waiting on a down provider: after each cooldown exactly one call probes it."""
    clock = FakeClock(start=0.0)
    pause = ProviderPause(threshold=1, cooldown=10.0)
    pause.failed(clock)
    times: list[float] = []

    async def down() -> str:
        times.append(clock.now())
        raise TransientError("503")

    async def caller() -> None:
        with pytest.raises(TransientError):
            await call_with_retry(down, policy=RetryPolicy(attempts=1), budget=RetryBudget(0), clock=clock,
                                  rng=random.Random(0), deadline=1e9, pause=pause)  # fmt: skip

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(caller)
    assert len(times) == 5
    assert all(later - earlier >= 10.0 for earlier, later in itertools.pairwise(times))


# --- the provider's request-rate ceiling ---------------------------------------------------------------


@pytest.mark.anyio
async def test_the_rate_ceiling_spaces_every_gates_requests_and_a_429_halves_it() -> None:
    """5 requests/s: calls leave 0.2 s apart (each takes the next free slot, so concurrent gates queue
    behind each other); after a 429 they leave 0.4 s apart, and answered requests win the rate back step by
    step up to the ceiling. (FakeClock runs sleepers one after the other, hence sequential calls here.)"""
    clock = FakeClock(start=0.0)
    pause = ProviderPause(rate=5.0)
    sent: list[float] = []
    for _ in range(10):
        await pause.wait(clock, deadline=100.0)
        sent.append(clock.now())
    assert sent == pytest.approx([0.2 * i for i in range(10)])
    pause.slow_down()
    assert pause.rate == 2.5 and pause.slowdowns == 1
    sent.clear()
    for _ in range(3):
        await pause.wait(clock, deadline=100.0)
        sent.append(clock.now())
    assert [b - a for a, b in itertools.pairwise(sent)] == pytest.approx([0.4, 0.4])
    for _ in range(100):
        pause.succeeded()
    assert pause.rate == 5.0  # back to the ceiling, never above it
    for _ in range(20):
        pause.slow_down()
    assert pause.rate == ProviderPause.MIN_RATE
    with pytest.raises(DeadlineExceeded):
        await pause.wait(clock, deadline=clock.now() - 1.0)


@pytest.mark.anyio
async def test_a_call_waiting_for_its_slot_is_held_back_by_a_breaker_that_opened_meanwhile() -> None:
    clock = FakeClock(start=0.0)
    pause = ProviderPause(rate=1.0, threshold=1, cooldown=30.0)
    sent: list[float] = []

    async def one() -> None:
        await pause.wait(clock, deadline=1000.0)
        sent.append(clock.now())
        if len(sent) == 1:
            pause.failed(clock)  # the first answer trips the breaker while the others wait for slots
        else:
            pause.succeeded()  # the half-open probe answered: the breaker closes

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one)
    assert sent[0] == 0.0 and all(t >= 30.0 for t in sent[1:])


@pytest.mark.anyio
async def test_without_a_ceiling_nothing_waits() -> None:
    clock = FakeClock(start=0.0)
    pause = ProviderPause(rate=None)
    for _ in range(50):
        await pause.wait(clock, deadline=1.0)
    assert clock.now() == 0.0
