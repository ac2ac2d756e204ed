"""Helpers shared by the Freeplay simulator tests (test_fp_*.py): a Bearer-key client and the world's ids."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from runner.simulator.app import SimApp
from runner.simulator.wire import SimRequest, SimResponse

KEY = "fp-test-key-0001"

PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
ROOT = f"/api/v2/projects/{PROJECT}"
FAQ_SUITE = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e01"
AGENT_SUITE = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e02"
REGRESSED_SUITE = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e03"
ACCURACY_ID = "a1c0e5d2-1f3b-4c6d-8e9f-0a1b2c3d4e01"
TONE_ID = "a1c0e5d2-1f3b-4c6d-8e9f-0a1b2c3d4e04"
LATE = 10_000.0  # simulated seconds after which every evaluation is done
TARGET_PATH = Path(__file__).resolve().parents[2] / "configs" / "examples" / "support_target.py"


def load_target() -> ModuleType:
    """The example target as a module, to call its ``answer`` in-process."""
    spec = importlib.util.spec_from_file_location("support_target", TARGET_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def new_id() -> str:
    return str(uuid.uuid4())


class FpApi:
    """Freeplay calls on a SimApp: ``Authorization: Bearer`` and paths relative to the default project."""

    def __init__(self, app: SimApp) -> None:
        self.app = app

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = KEY,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> SimResponse:
        """``path`` is absolute, or relative to the default project (``test-runs`` ...)."""
        hdrs = {"content-type": "application/json", "host": "sim.test"}
        if key:
            hdrs["authorization"] = f"Bearer {key}"
        hdrs.update(headers or {})
        full = path if path.startswith("/") else f"{ROOT}/{path}"
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        q = {k: [v] for k, v in (query or {}).items()}
        return self.app.handle(SimRequest(method, full, q, hdrs, payload))

    def create(self, dataset: str = "support-faq", **body: Any) -> dict[str, Any]:
        response = self.call("POST", "test-runs", {"dataset_name": dataset, **body})
        assert response.status == 201, response.body
        data: dict[str, Any] = response.json()
        return data

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.call("GET", f"test-runs/id/{run_id}")
        assert response.status == 200, response.body
        data: dict[str, Any] = response.json()
        return data

    def complete(
        self,
        run_id: str,
        case_id: str,
        text: str,
        *,
        completion_id: str | None = None,
        session_id: str | None = None,
        eval_results: dict[str, Any] | None = None,
    ) -> SimResponse:
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}],
            "test_run_info": {"test_run_id": run_id, "test_case_id": case_id},
            "completion_id": completion_id or new_id(),
        }
        if eval_results is not None:
            body["eval_results"] = eval_results
        return self.call("POST", f"sessions/{session_id or new_id()}/completions", body)

    def trace(
        self,
        run_id: str,
        case_id: str,
        output: Any,
        *,
        trace_id: str | None = None,
        session_id: str | None = None,
        eval_results: dict[str, Any] | None = None,
    ) -> SimResponse:
        body: dict[str, Any] = {
            "input": "the input",
            "output": output,
            "test_run_info": {"test_run_id": run_id, "test_case_id": case_id},
        }
        if eval_results is not None:
            body["eval_results"] = eval_results
        return self.call("POST", f"sessions/{session_id or new_id()}/traces/id/{trace_id or new_id()}", body)

    def record_answers(self, run_id: str, cases: list[dict[str, Any]], answers: dict[str, str]) -> None:
        """Record ``answers[test case id]`` for each case, as a completion or a trace by its type."""
        for case in cases:
            text = answers[case["test_case_id"]]
            if case["test_case_type"] == "trace":
                response = self.trace(run_id, case["test_case_id"], text)
            else:
                response = self.complete(run_id, case["test_case_id"], text)
            assert response.status == 201, response.body
