"""The provider protocol: what the orchestrator needs from a platform adapter.

A provider makes one HTTP call per method, maps platform JSON to ``runner.model`` and httpx failures to
``runner.errors``. It never sleeps, loops, retries or decides pass/fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from runner.model import ResultSnapshot, TargetResult, TestCase
from runner.settings import GateSpec


@dataclass(frozen=True, slots=True)
class StartedResult:
    """The handle of a started result."""

    result_id: str
    status: str
    run_count: int | None  # runs the platform announced at start, if it said
    reference: str | None  # the unique client reference sent as the result name, if the mode has a name
    cases: tuple[TestCase, ...] = ()  # test cases the client must execute and record (Freeplay)


class Provider(Protocol):
    name: str

    def describe_target(self, gate: GateSpec) -> str: ...

    def can_find_again(self, gate: GateSpec) -> bool:
        """Whether a start can be found again by its reference (so an ambiguous start is recoverable)."""
        ...

    async def start(self, gate: GateSpec, reference: str) -> StartedResult: ...

    async def find_started(self, gate: GateSpec, reference: str) -> StartedResult | None: ...

    async def fetch_cases(self, started: StartedResult) -> tuple[TestCase, ...]:
        """The test cases to execute, if the start answer did not list them (a paged suite run)."""
        ...

    async def record(self, started: StartedResult, result: TargetResult) -> None:
        """Record one test case's output with the platform. Must be safe to retry."""
        ...

    async def poll(self, started: StartedResult) -> ResultSnapshot: ...

    async def probe(self, started: StartedResult, *, ended: bool = False) -> int:
        """How many of the result's runs have not ended their call (``ended``: have), in one small
        request; raises ``ProbeUnsupported`` when the platform cannot say (the poller then reads the whole
        result)."""
        ...

    async def share_link(self, started: StartedResult) -> str | None: ...

    async def cancel(self, started: StartedResult) -> None: ...

    async def aclose(self) -> None: ...
