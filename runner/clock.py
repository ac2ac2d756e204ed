"""Time, injected: the orchestrator, polling and retries read time and sleep only through a ``Clock``.

Tests pass a ``FakeClock`` whose ``sleep`` advances virtual time instantly, so no test waits in real time.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


class FakeClock:
    """Virtual time: ``sleep`` returns at once (after a checkpoint) having advanced ``now``."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self._now += seconds
        # A real checkpoint keeps cancellation and task switching working as with a real sleep.
        await anyio.lowlevel.checkpoint()
