"""Polling toward a terminal status: capped backoff with jitter, deadlines, tolerated transient failures."""

from __future__ import annotations

import random

import pytest

from runner.clock import FakeClock
from runner.errors import ProbeUnsupported, ProtocolError, TransientError
from runner.model import ResultSnapshot
from runner.polling import PollGaveUp, PollTimeout, StatusFilter, poll_delay, poll_until_terminal
from runner.retry import RetryBudget
from runner.settings import PollPolicy, RetryPolicy


def snap(status: str) -> ResultSnapshot:
    terminal = status in {"completed", "failed", "timeout", "cancelled"}
    return ResultSnapshot("1", status, terminal, status == "completed")


def test_poll_delay_grows_geometrically_to_the_cap_with_jitter() -> None:
    """Delay n lies in [b/2, b] for b = min(maximum, initial * multiplier**n)."""
    policy = PollPolicy(initial=2.0, maximum=30.0, multiplier=2.0)
    rng = random.Random(3)
    for index, base in [(0, 2.0), (1, 4.0), (3, 16.0), (4, 30.0), (1000, 30.0)]:
        delays = [poll_delay(index, policy, rng) for _ in range(100)]
        assert all(base / 2 <= d <= base for d in delays)


class Script:
    def __init__(self, items: list[ResultSnapshot | Exception]) -> None:
        self.items = items
        self.calls = 0

    async def __call__(self) -> ResultSnapshot:
        self.calls += 1
        item = self.items.pop(0) if len(self.items) > 1 else self.items[0]
        if isinstance(item, Exception):
            raise item
        return item


async def _poll(script: Script, *, clock: FakeClock, deadline: float, budget: int = 5) -> ResultSnapshot:
    seen: list[str] = []
    result = await poll_until_terminal(
        script, poll=PollPolicy(initial=1.0, maximum=4.0),
        retry=RetryPolicy(attempts=2, base=0.5, maximum=1.0),
        budget=RetryBudget(budget), clock=clock, rng=random.Random(0), deadline=deadline,
        on_snapshot=lambda s: seen.append(s.status),
    )  # fmt: skip
    return result


@pytest.mark.anyio
async def test_polls_until_a_terminal_status() -> None:
    clock = FakeClock(start=0.0)
    script = Script([snap("pending"), snap("running"), snap("evaluating"), snap("completed")])
    result = await _poll(script, clock=clock, deadline=100.0)
    assert result.status == "completed"
    assert script.calls == 4
    assert max(clock.sleeps) <= 4.0


@pytest.mark.anyio
async def test_a_result_that_never_finishes_ends_at_the_deadline_with_the_last_snapshot() -> None:
    """Never hanging: a result stuck in `running` ends at the deadline, carrying what was seen."""
    clock = FakeClock(start=0.0)
    with pytest.raises(PollTimeout) as info:
        await _poll(Script([snap("running")]), clock=clock, deadline=60.0)
    assert info.value.last is not None and info.value.last.status == "running"
    assert clock.now() <= 60.0 + 1e-9


@pytest.mark.anyio
async def test_an_unknown_status_is_not_terminal() -> None:
    """A status regate does not know is waited on (it may be new and transient), bounded by the deadline."""
    clock = FakeClock(start=0.0)
    with pytest.raises(PollTimeout) as info:
        await _poll(Script([snap("exploded")]), clock=clock, deadline=20.0)
    assert info.value.last is not None and info.value.last.status == "exploded"


@pytest.mark.anyio
async def test_transient_poll_failures_are_tolerated_within_the_budget() -> None:
    clock = FakeClock(start=0.0)
    failures: list[ResultSnapshot | Exception] = [TransientError("503")] * 4
    script = Script([snap("running"), *failures, snap("completed")])
    assert (await _poll(script, clock=clock, deadline=1000.0, budget=10)).status == "completed"


@pytest.mark.anyio
async def test_polling_gives_up_when_the_budget_is_spent() -> None:
    clock = FakeClock(start=0.0)
    with pytest.raises(PollGaveUp) as info:
        await _poll(Script([snap("running"), TransientError("503")]), clock=clock, deadline=1e6, budget=3)
    assert info.value.last is not None and info.value.last.status == "running"


@pytest.mark.anyio
async def test_a_garbled_answer_is_asked_again_within_the_budget() -> None:
    """Polls are idempotent: a ProtocolError (a proxy page, a cut body) is retried like a 503."""
    clock = FakeClock(start=0.0)
    script = Script([snap("running"), ProtocolError("not JSON"), snap("completed")])
    assert (await _poll(script, clock=clock, deadline=1000.0)).status == "completed"
    with pytest.raises(PollGaveUp, match="not JSON"):
        await _poll(Script([ProtocolError("not JSON")]), clock=FakeClock(start=0.0), deadline=1e6, budget=2)


# --- adaptive polling -----------------------------------------------------------------------------------

from runner.polling import JITTER, next_delay, predicted_wait  # noqa: E402


def test_without_progress_the_delay_backs_off_and_with_progress_it_aims_at_the_predicted_end() -> None:
    policy = PollPolicy(initial=2.0, maximum=30.0, minimum=1.0, multiplier=2.0)
    rng = random.Random(5)
    assert predicted_wait(None, None, 0.0) is None
    assert (
        predicted_wait((0.0, 0, 100, False), (10.0, 0, 100, False), 10.0) is None
    )  # nothing finished: no rate yet
    # 20 of 100 runs finished in 10 s: 80 more need 40 s
    assert predicted_wait((0.0, 0, 100, False), (10.0, 20, 100, False), 10.0) == pytest.approx(40.0)
    assert predicted_wait((0.0, 0, 100, False), (10.0, 20, 100, False), 25.0) == pytest.approx(
        25.0
    )  # 15 s later
    assert (
        predicted_wait((0.0, 0, 100, False), (50.0, 100, 100, False), 50.0) == 0.0
    )  # all done: the status is awaited
    assert predicted_wait((0.0, 0, 100, False), (50.0, 90, 100, True), 50.0) == 0.0  # the rest are evaluating
    for _ in range(200):
        far = next_delay(7, policy, rng, (0.0, 0, 100, False), (10.0, 20, 100, False), 10.0)
        near = next_delay(7, policy, rng, (0.0, 0, 100, False), (49.0, 98, 100, False), 49.0)
        tail = next_delay(7, policy, rng, (0.0, 0, 100, False), (500.0, 91, 100, False), 500.0)
        assert 8.0 * (1 - JITTER) <= tail <= 8.0  # the last tenth: at most 8 x poll.min
        unknown = next_delay(1, policy, rng, None, None, 0.0)
        assert 30.0 * (1 - JITTER) <= far <= 30.0  # 80% of 40 s, capped at poll.max
        assert 1.0 * (1 - JITTER) <= near <= 1.0  # the end is near: poll.min
        assert 4.0 * (1 - JITTER) <= unknown <= 4.0  # backoff: initial * multiplier
        assert (
            next_delay(7, policy, rng, (0.0, 0, 100, False), (1.0, 1, 100, False), 1.0) <= 30.0
        )  # never above max


@pytest.mark.anyio
async def test_a_result_finishing_steadily_is_seen_promptly_with_few_polls() -> None:
    """100 runs finishing evenly from t=10 s to t=110 s: the end is detected within poll.min (+ one poll),
    with fewer than half the polls of a fixed 5 s poller (22), and never more than poll.max late."""
    clock = FakeClock(start=0.0)
    end = 110.0

    async def poll_once() -> ResultSnapshot:
        now = clock.now()
        done = max(0, min(100, int(now - 10.0)))
        finished = now >= end
        return ResultSnapshot(
            "1",
            "completed" if finished else "running",
            finished,
            finished,
            total_runs=100,
            completed_runs=done,
        )

    calls = 0

    async def counted() -> ResultSnapshot:
        nonlocal calls
        calls += 1
        return await poll_once()

    await poll_until_terminal(
        counted, poll=PollPolicy(initial=2.0, maximum=30.0, minimum=1.0, multiplier=1.5),
        retry=RetryPolicy(), budget=RetryBudget(5), clock=clock, rng=random.Random(1), deadline=1000.0,
    )  # fmt: skip
    lag = clock.now() - end
    assert 0.0 <= lag <= 1.0 + 0.5  # poll.min, plus the rounding of the last finished run
    assert calls < 22 / 2


class World:
    """A result of 100 runs whose calls end spread over 60-600 s, each evaluated 3 s later; ``probe``
    counts the runs still calling or, ``ended``, those whose call has ended (like the runs list),
    ``detail`` is the whole result."""

    EVALUATION = 3.0

    def __init__(
        self,
        clock: FakeClock,
        *,
        probe_error: Exception | None = None,
        inflate: int = 0,
        unfiltered: bool = False,
    ) -> None:
        self.clock = clock
        self.ends = [60.0 + 540.0 * i / 99 for i in range(100)]
        self.details = 0
        self.probes = 0
        self.order: list[tuple[str, float]] = []  # ("probe" | "ended" | "detail", clock time)
        self.probe_error = probe_error
        self.inflate = inflate  # counts more runs than the result has
        self.unfiltered = unfiltered  # ignores the status filter: counts every run of the result

    async def probe(self, *, ended: bool = False) -> int:
        self.probes += 1
        self.order.append(("ended" if ended else "probe", self.clock.now()))
        if self.probe_error is not None:
            raise self.probe_error
        if self.unfiltered:
            return len(self.ends)
        now = self.clock.now()
        return sum(1 for end in self.ends if (end <= now) == ended) + self.inflate

    async def detail(self) -> ResultSnapshot:
        self.details += 1
        now = self.clock.now()
        self.order.append(("detail", now))
        done = sum(1 for end in self.ends if end + self.EVALUATION <= now)
        status = "completed" if done == len(self.ends) else "running"
        return ResultSnapshot("1", status, status == "completed", status == "completed",
                              total_runs=len(self.ends), completed_runs=done)  # fmt: skip

    @property
    def finished_at(self) -> float:
        return max(self.ends) + self.EVALUATION


POLICY = PollPolicy(initial=5.0, maximum=30.0, minimum=1.0)


async def _poll_world(
    world: World,
    *,
    deadline: float = 3600.0,
    total_hint: int | None = 100,
    progress: list[tuple[int, int]] | None = None,
    status_filter: StatusFilter | None = None,
) -> ResultSnapshot:
    return await poll_until_terminal(
        world.detail, poll=POLICY, retry=RetryPolicy(attempts=2, base=0.5, maximum=1.0),
        budget=RetryBudget(5), clock=world.clock, rng=random.Random(0), deadline=deadline,
        probe=world.probe, total_hint=total_hint,
        on_probe=None if progress is None else lambda ended, total: progress.append((ended, total)),
        status_filter=status_filter,
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_probe_does_most_of_the_polling_and_the_whole_result_is_read_once_calls_have_ended() -> None:
    """Reading a result of 100 runs is ~440 KB of JSON: while calls go on, the poller asks only how many
    are still calling and, once every call has ended, reads the whole result on each poll until it is
    terminal. The first poll checks the probe: it counts the runs whose call has ended, then at once those
    still calling. The result is seen as promptly as without probes."""
    clock = FakeClock(start=0.0)
    world = World(clock)
    progress: list[tuple[int, int]] = []
    result = await _poll_world(world, progress=progress)
    assert result.terminal and result.completed_runs == 100
    kinds = [kind for kind, _ in world.order]
    assert kinds[:2] == ["ended", "probe"] and world.order[0][1] == world.order[1][1]
    assert kinds.count("ended") == 1
    # every probe of the calls reports progress (for the heartbeat lines between reads of the whole result)
    assert len(progress) == kinds.count("probe") and progress[-1] == (100, 100)
    # the probe that found every call ended is followed at once (no delay) by a read of the whole result
    last_probe = max(i for i, kind in enumerate(kinds) if kind == "probe")
    assert world.order[last_probe + 1] == ("detail", world.order[last_probe][1])
    assert set(kinds[last_probe + 1 :]) == {"detail"}
    assert [ended for ended, _ in progress] == sorted(ended for ended, _ in progress)
    assert clock.now() - world.finished_at <= POLICY.maximum  # detection lag bounded by poll.max
    # the calls end 600 s in, as a read for fresh partial runs would be due (20 x poll.max): the end is
    # near, so only the reads once every call has ended are made (the evaluation takes a poll or two)
    assert world.details <= 2
    whole = World(FakeClock(start=0.0), probe_error=ProbeUnsupported("none"))
    await _poll_world(whole)
    assert world.details * 5 < whole.details  # without the probe every poll reads the whole result


@pytest.mark.anyio
async def test_a_long_result_is_read_whole_now_and_then_for_fresh_partial_runs() -> None:
    """An interrupted gate is reported with the runs seen last: while the end is far, the whole result is
    read at least every 20 x poll.max, so those runs are never much older than that."""
    clock = FakeClock(start=0.0)
    world = World(clock)
    world.ends = [60.0 + 3540.0 * i / 99 for i in range(100)]  # calls ending over the first hour
    result = await _poll_world(world, deadline=7200.0)
    assert result.terminal
    reads = [at for kind, at in world.order if kind == "detail"]
    gaps = [later - earlier for earlier, later in zip([0.0, *reads], reads, strict=False)]
    assert max(gaps) <= 20 * POLICY.maximum + POLICY.maximum
    assert len(reads) >= 3600 / (20 * POLICY.maximum + POLICY.maximum)
    assert world.probes > 4 * world.details


@pytest.mark.anyio
async def test_a_platform_without_the_probe_is_polled_whole_at_once_and_never_probed_again() -> None:
    """The probe is refused (no runs list here): that poll reads the whole result at once, without
    waiting another delay, and every later poll does too."""
    clock = FakeClock(start=0.0)
    world = World(clock, probe_error=ProbeUnsupported("the runs list was refused: 404"))
    result = await _poll_world(world)
    assert result.terminal
    assert world.probes == 1
    assert len(clock.sleeps) == world.details  # the refused probe cost no extra wait


@pytest.mark.anyio
async def test_a_probe_count_that_does_not_add_up_is_not_trusted() -> None:
    """A platform that ignores the scope counts more runs than the result has: the poller reads the whole
    result from then on, instead of waiting for a count that would never reach zero."""
    clock = FakeClock(start=0.0)
    world = World(clock, inflate=1000)
    result = await _poll_world(world)
    assert result.terminal and world.probes == 1
    assert clock.now() - world.finished_at <= POLICY.maximum


@pytest.mark.anyio
async def test_a_probe_that_ignores_the_status_filter_is_not_trusted_from_the_first_poll() -> None:
    """A platform that ignores the status filter counts every run both as ended and as calling: the two
    add up to more than the result has, so the second probe is the last one, before any run has ended."""
    clock = FakeClock(start=0.0)
    world = World(clock, unfiltered=True)
    result = await _poll_world(world)
    assert result.terminal
    assert [kind for kind, _ in world.order][:3] == ["ended", "probe", "detail"]
    assert world.probes == 2 and world.order[2][1] == world.order[1][1] < min(world.ends)
    assert clock.now() - world.finished_at <= POLICY.maximum


@pytest.mark.anyio
async def test_once_one_result_found_the_filter_honoured_the_provider_s_others_skip_the_check() -> None:
    """Whether the runs list filters by status is the platform's: the first result's two counts settle it
    for the next results of the same provider, which start with the count of calls going on."""
    shared = StatusFilter()
    first = World(FakeClock(start=0.0))
    await _poll_world(first, status_filter=shared)
    assert [kind for kind, _ in first.order][:2] == ["ended", "probe"]
    assert shared.verified
    second = World(FakeClock(start=0.0))
    result = await _poll_world(second, status_filter=shared)
    assert result.terminal and result.completed_runs == 100
    kinds = [kind for kind, _ in second.order]
    assert kinds[0] == "probe" and "ended" not in kinds
    assert second.probes == first.probes - 1
    assert second.clock.now() - second.finished_at <= POLICY.maximum


@pytest.mark.anyio
async def test_counts_that_do_not_add_up_leave_the_provider_s_check_unsettled() -> None:
    """A platform that ignores the filter never verifies it: each of its results checks (and stops
    probing) on its own, as if it were the first."""
    shared = StatusFilter()
    for _ in range(2):
        world = World(FakeClock(start=0.0), unfiltered=True)
        assert (await _poll_world(world, status_filter=shared)).terminal
        assert [kind for kind, _ in world.order][:3] == ["ended", "probe", "detail"]
        assert not shared.verified


@pytest.mark.anyio
async def test_a_probe_that_counts_runs_a_read_found_finished_as_calling_is_not_trusted() -> None:
    """Without the number of runs the first poll reads the whole result; a probe that later counts as
    calling runs that read found finished is not asked again."""
    clock = FakeClock(start=0.0)
    world = World(clock)
    world.ends = [0.0] * 50 + world.ends[50:]  # half the calls have ended before the first poll

    async def calling_everywhere(*, ended: bool = False) -> int:
        world.order.append(("ended" if ended else "probe", clock.now()))
        return 0 if ended else 100  # its ended count is plausible; its calling count is not

    world.probe = calling_everywhere  # type: ignore[method-assign]
    result = await _poll_world(world, total_hint=None)
    assert result.terminal
    kinds = [kind for kind, _ in world.order]
    assert kinds[:4] == ["detail", "ended", "probe", "detail"]
    assert kinds.count("probe") == 1 and kinds.count("ended") == 1


@pytest.mark.anyio
async def test_without_the_number_of_runs_the_first_poll_reads_the_whole_result() -> None:
    """Nothing to weigh a probe's count against before a poll said how many runs there are."""
    world = World(FakeClock(start=0.0))
    await _poll_world(world, total_hint=None)
    assert world.order[0][0] == "detail" and world.probes > 0


@pytest.mark.anyio
async def test_near_the_deadline_every_poll_reads_the_whole_result_so_a_timeout_keeps_fresh_runs() -> None:
    """A timed-out gate is reported with the runs seen last: in the last 2 x poll.max before the deadline
    the poller reads the whole result on every poll, so what a timeout keeps is at most a poll old."""
    clock = FakeClock(start=0.0)
    world = World(clock)
    world.ends = [10_000.0] * 100  # calls that never end before the deadline
    with pytest.raises(PollTimeout) as info:
        await _poll_world(world, deadline=900.0)
    assert info.value.last is not None
    last_detail = max(at for kind, at in world.order if kind == "detail")
    assert 900.0 - last_detail <= POLICY.maximum
    assert all(kind == "detail" for kind, at in world.order if at >= 900.0 - 2 * POLICY.maximum)
    assert world.probes > world.details
