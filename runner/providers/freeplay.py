"""The Freeplay adapter (api-contracts Part B, Part D): one HTTP call per method.

- ``Authorization: Bearer <key>``; paths without a trailing slash under ``<base_url>/api/v2`` (§B1).
- Create calls (test runs, suite runs, suite execution) are never re-sent blindly (§C-17): a test run
  carries regate's unique reference in its name and is looked up in the test-run list after an ambiguous
  failure; suite runs cannot be listed, so an ambiguous suite start fails closed.
- Recordings are idempotent: session, completion and trace ids are derived from (test run, test case), so
  a retried recording overwrites itself instead of recording a case twice.
- A case whose target failed is still recorded (with the error as its output), so the platform can
  finish the run and every case is accounted for; the gate counts it as a target error.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from runner.errors import ProbeUnsupported, ProtocolError, StartOutcomeUnknown
from runner.model import CaseKind, ResultSnapshot, TargetResult, TestCase
from runner.providers.base import StartedResult
from runner.providers.freeplay_map import (
    map_cases,
    map_page_cases,
    map_suite_results,
    map_test_run,
    normalise_status,
)
from runner.providers.http import IN_FLIGHT, JsonApi
from runner.settings import FreeplayGate, FreeplayMode, GateSpec, Secret

API = "/api/v2/projects"
PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 test cases: a bound, so a server that always says has_next cannot loop us forever
_NAMESPACE = uuid.UUID("5d6f1d2a-8f0b-4c61-9d0e-7a2b3c4d5e6f")  # regate's namespace for derived ids


def describe_freeplay_error(body: Any) -> str:
    if isinstance(body, dict) and body.get("message") is not None:
        return str(body["message"])
    return ""


def derived_id(*parts: str) -> str:
    """A UUID v4-shaped id derived from ``parts`` (the API wants uuid4 format for client ids)."""
    raw = bytearray(uuid.uuid5(_NAMESPACE, ":".join(parts)).bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4 bits
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))


def run_name(gate: FreeplayGate, reference: str) -> str:
    return f"{gate.test_run_name or 'regate ' + gate.name} [regate {reference}]"


class FreeplayProvider:
    name = "freeplay"

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
            headers={"Authorization": f"Bearer {api_key.reveal()}", "Accept": "application/json"},
            secret=api_key.reveal(),
            describe=describe_freeplay_error,
            auth_hint=f"check providers.freeplay.api_key (read from {key_source or '${FREEPLAY_API_KEY}'}) "
            "and its project access",
        )
        self._call = self._api.call
        self._gates: dict[str, FreeplayGate] = {}  # result id -> gate, for polls and recordings

    @staticmethod
    def _own(gate: GateSpec) -> FreeplayGate:
        if not isinstance(gate, FreeplayGate):  # the registry routes by gate.provider; this is a bug guard
            raise TypeError(f"gate {gate.name!r} is not a Freeplay gate")
        return gate

    def describe_target(self, gate: GateSpec) -> str:
        own = self._own(gate)
        return f"dataset {own.dataset}" if own.dataset is not None else f"suite {own.suite}"

    def can_find_again(self, gate: GateSpec) -> bool:
        return self._own(gate).mode is FreeplayMode.DATASET

    def _suite_path(self, gate: FreeplayGate) -> str:
        return f"{API}/{gate.project}/test-suites/{gate.suite}/runs"

    def _remember(self, gate: FreeplayGate, started: StartedResult) -> StartedResult:
        self._gates[started.result_id] = gate
        return started

    async def start(self, gate: GateSpec, reference: str) -> StartedResult:
        try:
            return await self._start(self._own(gate), reference)
        except ProtocolError as exc:  # a 2xx we cannot read: something was created, we do not know what
            raise StartOutcomeUnknown(exc.message) from exc

    async def _start(self, own: FreeplayGate, reference: str) -> StartedResult:
        if own.mode is FreeplayMode.DATASET:
            body: dict[str, Any] = {
                "dataset_name": own.dataset,
                "include_outputs": own.include_outputs,
                "test_run_name": run_name(own, reference),
            }
            if own.description:
                body["test_run_description"] = own.description
            if own.flavor_name:
                body["flavor_name"] = own.flavor_name
            if own.target_evaluation_ids:
                body["target_evaluation_ids"] = list(own.target_evaluation_ids)
            data = await self._call("POST", f"{API}/{own.project}/test-runs", body=body, creates=True)
            if not isinstance(data, dict) or not isinstance(data.get("test_run_id"), str):
                raise ProtocolError("the created test run has no 'test_run_id'")
            if "test_cases" not in data and "trace_test_cases" not in data:
                raise ProtocolError("the created test run lists no test cases")
            cases = map_cases(
                data, include_outputs=own.include_outputs, keys=("test_cases", "trace_test_cases")
            )
            started = StartedResult(data["test_run_id"], "in-progress", len(cases), reference, cases)
            return self._remember(own, started)
        suite_body: dict[str, Any] = {"name": run_name(own, reference)}
        if own.environment:
            suite_body["environment"] = own.environment
        if own.mode is FreeplayMode.SUITE:
            data = await self._call("POST", f"{self._suite_path(own)}/execute", body=suite_body, creates=True)
            snapshot = map_suite_results(data, total=None)
            return self._remember(own, StartedResult(snapshot.result_id, snapshot.status, None, None))
        suite_body["is_sdk"] = True
        data = await self._call("POST", self._suite_path(own), body=suite_body, creates=True)
        if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
            raise ProtocolError("the created suite run has no 'run_id'")
        total = data.get("total_test_cases")
        count = total if isinstance(total, int) and not isinstance(total, bool) else None
        return self._remember(own, StartedResult(data["run_id"], "in-progress", count, None))

    async def find_started(self, gate: GateSpec, reference: str) -> StartedResult | None:
        """Find a test run by the reference in its name. Its test cases are not in the list, so a found
        run cannot be executed: it is returned without cases and the orchestrator fails it closed."""
        own = self._own(gate)
        data = await self._call(
            "GET", f"{API}/{own.project}/test-runs", params={"page": "1", "page_size": "50"}
        )
        runs = data.get("test_runs") if isinstance(data, dict) else None
        if not isinstance(runs, list):
            raise ProtocolError("the test-run list has no 'test_runs'")
        for item in runs:
            if isinstance(item, dict) and item.get("name") == run_name(own, reference):
                run_id = item.get("id") or item.get("test_run_id")
                if isinstance(run_id, str):
                    return self._remember(
                        own, StartedResult(run_id, normalise_status(item.get("status")), None, reference)
                    )
        return None

    async def fetch_cases(self, started: StartedResult) -> tuple[TestCase, ...]:
        """The test cases of a client-orchestrated suite run, page by page (B5.2)."""
        gate = self._gates[started.result_id]
        if gate.mode is not FreeplayMode.SUITE_CLIENT:
            return started.cases
        cases: list[TestCase] = []
        for page in range(1, MAX_PAGES + 1):
            data = await self._call(
                "GET",
                f"{self._suite_path(gate)}/{started.result_id}/test-cases",
                params={"page": str(page), "page_size": str(PAGE_SIZE)},
            )
            if not isinstance(data, dict):
                raise ProtocolError("the suite test-case page is not a JSON object")
            cases.extend(map_page_cases(data.get("data"), include_outputs=gate.include_outputs))
            pagination = data.get("pagination")
            if not (isinstance(pagination, dict) and pagination.get("has_next") is True):
                return tuple(cases)
        raise ProtocolError(f"the suite run still had more test cases after {MAX_PAGES} pages")

    async def record(self, started: StartedResult, result: TargetResult) -> None:
        gate = self._gates[started.result_id]
        case = result.case
        run_info = {"test_run_id": started.result_id, "test_case_id": case.case_id}
        session_id = derived_id(started.result_id, case.case_id, "session")
        output: Any = json.loads(result.output_json) if result.ok and result.output_json else None
        if not result.ok:
            output = f"[regate] the target failed: {result.error or 'unknown error'}"
        evals = {name: value for name, value in result.eval_results}
        path = f"{API}/{gate.project}/sessions/{session_id}"
        if case.kind is CaseKind.TRACE:
            trace_id = derived_id(started.result_id, case.case_id, "trace")
            body: dict[str, Any] = {
                "input": json.loads(case.inputs_json),
                "output": output,
                "test_run_info": run_info,
                "name": gate.name,
                "agent_name": "regate target",
            }
            if evals:
                body["eval_results"] = evals
            await self._call("POST", f"{path}/traces/id/{trace_id}", body=body)
            return
        messages = json.loads(result.messages_json) if result.ok and result.messages_json else None
        if not isinstance(messages, list) or not messages:
            history = json.loads(case.target_input).get("history") or []
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            messages = [*history, {"role": "assistant", "content": text}]
        body = {
            "messages": messages,
            "inputs": json.loads(case.inputs_json),
            "test_run_info": run_info,
            "completion_id": derived_id(started.result_id, case.case_id, "completion"),
        }
        if evals:
            body["eval_results"] = evals
        await self._call("POST", f"{path}/completions", body=body)

    async def probe(self, started: StartedResult, *, ended: bool = False) -> int:
        raise ProbeUnsupported("Freeplay has no cheaper progress request than the test run itself")

    async def poll(self, started: StartedResult) -> ResultSnapshot:
        gate = self._gates[started.result_id]
        if gate.mode is FreeplayMode.DATASET:
            data = await self._call("GET", f"{API}/{gate.project}/test-runs/id/{started.result_id}")
            return map_test_run(data)
        data = await self._call("GET", f"{self._suite_path(gate)}/{started.result_id}/results")
        return map_suite_results(data, total=started.run_count)

    async def share_link(self, started: StartedResult) -> str | None:
        return None  # Freeplay has no share-link call; the test run is found by its name in the app

    async def cancel(self, started: StartedResult) -> None:
        return None  # nothing runs on Freeplay's side that regate could stop

    async def aclose(self) -> None:
        await self._api.client.aclose()
