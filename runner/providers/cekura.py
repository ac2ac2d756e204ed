"""The Cekura adapter: one HTTP call per method (api-contracts Part A, Part D).

- Paths always end with ``/`` (§A1.4); the key goes in ``X-CEKURA-API-KEY`` and redirects are never
  followed, because httpx would carry that custom header to another origin (design.md §7).
- Any 2xx is success (§C-10). 401/403 → AuthError, 408/429/5xx and transport failures → TransientError,
  other 4xx → RequestRejected, a 2xx body we cannot read → ProtocolError.
- The start POST places billed calls: only failures that prove the request was not processed (could not
  connect, 408, 429) are raised as retryable; anything else is ``StartOutcomeUnknown``, and the
  orchestrator looks the result up by its unique name instead of sending the POST again.
- Write-back (``runner.writeback``): ``get_run``/``get_runs`` read a run's review fields, ``update_run``
  PATCHes only the writable fields of §A10, ``create_test_set_from_run`` promotes a run (§A11). Both
  writes are idempotent on the platform (PATCH replaces; create_from_run returns the existing set), so
  they are plain calls, not ``creates``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from runner.errors import (
    AuthError,
    ProbeUnsupported,
    ProtocolError,
    RequestRejected,
    StartOutcomeUnknown,
)
from runner.model import ResultSnapshot, TargetResult, TestCase
from runner.providers.base import StartedResult
from runner.providers.cekura_map import RunMemo, map_result, normalise_status
from runner.providers.cekura_payloads import build_start, has_reference, result_name
from runner.providers.cekura_runs import (
    CREATE_FROM_RUN,
    RUNS,
    RunReview,
    TestSetRef,
    check_create_from_run,
    check_run_update,
    map_run_review,
    map_runs,
    map_test_set,
)
from runner.providers.http import IN_FLIGHT, JsonApi
from runner.settings import CekuraGate, GateSpec, Secret

RESULTS = "/test_framework/v1/results/"
# Run statuses before and after a run's call has ended (api-contracts §A5): what progress probes count.
CALLING = ("pending", "in_queue", "scaling_up", "in_progress", "running")
ENDED = ("evaluating", "completed", "failed", "timeout", "cancelled")
_RUN_ID = re.compile(r"[0-9]{1,30}")


def _run_id(run_id: str) -> str:
    """A run id that is safe in a path; anything else is a bug in the caller."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a Cekura run id: {run_id!r}")
    return run_id


def describe_drf_error(body: Any) -> str:
    """A DRF error body as text: ``{"detail": ...}``, field errors, or a bare list of messages."""
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])
        return "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items()
        )
    if isinstance(body, list):
        return " ".join(map(str, body))
    return ""


class CekuraProvider:
    name = "cekura"

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: Secret,
        *,
        key_source: str | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._api = JsonApi(
            client,
            in_flight=in_flight,
            headers={
                "X-CEKURA-API-KEY": api_key.reveal(),
                "Accept": "application/json",
                "X-Client-Source": "regate",
            },
            secret=api_key.reveal(),
            describe=describe_drf_error,
            auth_hint=f"check providers.cekura.api_key (read from {key_source or '${CEKURA_API_KEY}'}) "
            "and the key's permissions",
        )
        self._call = self._api.call
        self._memos: dict[str, RunMemo] = {}  # result id -> its runs mapped so far (until it is terminal)
        self._probe_works = True  # False once the platform refused a progress probe

    @staticmethod
    def _own(gate: GateSpec) -> CekuraGate:
        if not isinstance(gate, CekuraGate):  # the registry routes by gate.provider; this is a bug guard
            raise TypeError(f"gate {gate.name!r} is not a Cekura gate")
        return gate

    def describe_target(self, gate: GateSpec) -> str:
        return f"agent {self._own(gate).agent}"

    def can_find_again(self, gate: GateSpec) -> bool:
        return has_reference(self._own(gate).mode)

    @staticmethod
    def _started(data: object, reference: str | None) -> StartedResult:
        if not isinstance(data, dict):
            raise ProtocolError("the start response is not a JSON object")
        raw_id = data.get("id", data.get("result_id"))  # §C-5
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).isdigit():
            raise ProtocolError("the start response has no result id ('id' or 'result_id')")
        runs = data.get("runs")
        count = len(runs) if isinstance(runs, list | dict) else None
        return StartedResult(str(raw_id), normalise_status(data.get("status")), count, reference)

    async def start(self, gate: GateSpec, reference: str) -> StartedResult:
        own = self._own(gate)
        path, body = build_start(own, reference)
        data = await self._call("POST", path, body=body, creates=True)
        try:
            return self._started(data, reference if has_reference(own.mode) else None)
        except ProtocolError as exc:  # a 2xx we cannot read: runs were started, we do not know which
            raise StartOutcomeUnknown(exc.message) from exc

    async def dry_run(self, gate: CekuraGate) -> dict[str, Any]:
        """Validate a tests-as-code gate for free: ``run_scenarios_json?dry_run=true`` creates and charges
        nothing and answers the plan (api-contracts §A3.4). An invalid spec is a ``RequestRejected`` whose
        message lists every error by spec location."""
        path, body = build_start(gate, "plan")
        data = await self._call("POST", path, body=body, params={"dry_run": "true"})
        if not isinstance(data, dict) or data.get("valid") is not True:
            raise ProtocolError("the dry run answer does not say the spec is valid")
        plan = data.get("plan")
        return plan if isinstance(plan, dict) else {}

    async def find_started(self, gate: GateSpec, reference: str) -> StartedResult | None:
        """Find a result by its unique name (a start whose answer was lost)."""
        gate = self._own(gate)
        name = result_name(gate, reference)
        data = await self._call("GET", RESULTS, params={"search": reference, "agent_id": str(gate.agent)})
        items = data.get("results") if isinstance(data, dict) else data  # §C-21: paginated or a bare list
        if not isinstance(items, list):
            raise ProtocolError("the results list is neither a page nor a list")
        found = [item for item in items if isinstance(item, dict) and item.get("name") == name]
        if not found:
            return None
        return self._started(found[0], reference)

    async def fetch_cases(self, started: StartedResult) -> tuple[TestCase, ...]:
        return ()  # Cekura runs its own simulations: there is nothing for the client to execute

    async def record(self, started: StartedResult, result: TargetResult) -> None:
        raise TypeError("Cekura results have no client-side test cases to record")

    async def poll(self, started: StartedResult) -> ResultSnapshot:
        data = await self._call("GET", f"{RESULTS}{started.result_id}/")
        memo = self._memos.setdefault(started.result_id, RunMemo())
        snapshot = map_result(data, memo=memo)
        if snapshot.result_id != started.result_id:
            raise ProtocolError(f"asked for result {started.result_id}, got result {snapshot.result_id}")
        if snapshot.terminal:
            del self._memos[started.result_id]
        return snapshot

    async def probe(self, started: StartedResult, *, ended: bool = False) -> int:
        """How many of the result's runs have not ended their call (or, ``ended``, have):
        ``GET runs-external/?result_id=…&status__in=<CALLING or ENDED>&page_size=1`` (api-contracts §A10),
        read for its ``count`` only.

        The detail of a result of 100 runs is about 440 KB of JSON (every transcript and metric), and
        parsing it on every poll was most of the CPU at 1,000 results; this answer is one run. It only
        tells the poller *when* to read the detail: every verdict comes from the detail. A platform that
        refuses the request (any 4xx but 408/429) or gives no count is asked no more
        (``ProbeUnsupported``)."""
        if not self._probe_works:
            raise ProbeUnsupported("the runs list was refused earlier")
        statuses = ",".join(ENDED if ended else CALLING)
        params = {"result_id": started.result_id, "status__in": statuses, "page_size": "1"}
        try:
            data = await self._call("GET", RUNS, params=params)
        except (RequestRejected, AuthError) as exc:
            # Optional: a key that may read results but not list runs (401/403), or no runs list (4xx),
            # costs only the probe; a key refused outright is reported by the read of the whole result.
            self._probe_works = False
            raise ProbeUnsupported(f"the runs list was refused: {exc.message}") from exc
        count = data.get("count") if isinstance(data, dict) else None
        if type(count) is not int or count < 0:
            self._probe_works = False
            raise ProbeUnsupported("the runs list has no count")
        return count

    async def share_link(self, started: StartedResult) -> str | None:
        data = await self._call(
            "POST", f"{RESULTS}{started.result_id}/create_shareable_link_token/", body={"expire_at": None}
        )
        link = data.get("shareable_link") if isinstance(data, dict) else None
        return link if isinstance(link, str) and link.startswith(("https://", "http://")) else None

    async def get_run(self, run_id: str) -> RunReview:
        """``GET runs-external/{id}/``: the run's current review fields (feedback, evaluation_status, ...)."""
        data = await self._call("GET", f"{RUNS}{_run_id(run_id)}/")
        review = map_run_review(data)
        if review.run_id != run_id:
            raise ProtocolError(f"asked for run {run_id}, got run {review.run_id}")
        return review

    async def get_runs(self, run_ids: Sequence[str]) -> dict[str, RunReview]:
        """``GET runs-external/bulk/``: many runs in one request, by id; ids the platform does not return
        are absent. The ids go as ``run_ids`` and ``ids`` alike (§C-6: the docs and the SDK disagree)."""
        wanted = [_run_id(run_id) for run_id in run_ids]
        if not wanted:
            return {}
        joined = ",".join(wanted)
        data = await self._call("GET", f"{RUNS}bulk/", params={"run_ids": joined, "ids": joined})
        keep = set(wanted)
        return {run_id: review for run_id, review in map_runs(data).items() if run_id in keep}

    async def update_run(self, run_id: str, fields: Mapping[str, object]) -> RunReview:
        """``PATCH runs-external/{id}/`` with writable fields only (a TypeError otherwise: a bug guard);
        the answer is the whole run, read back."""
        body = check_run_update(fields)
        data = await self._call("PATCH", f"{RUNS}{_run_id(run_id)}/", body=body)
        review = map_run_review(data)
        if review.run_id != run_id:
            raise ProtocolError(f"updated run {run_id}, got run {review.run_id}")
        return review

    async def create_test_set_from_run(self, body: Mapping[str, object]) -> TestSetRef:
        """``POST test-sets/create_from_run/``: the run's test set, created or (if it exists) returned."""
        data = await self._call("POST", CREATE_FROM_RUN, body=check_create_from_run(body))
        return map_test_set(data)

    async def cancel(self, started: StartedResult) -> None:
        await self._call("POST", f"{RESULTS}{started.result_id}/end_calls/")

    async def aclose(self) -> None:
        await self._api.client.aclose()
