"""JSON shapes of the Freeplay API (api-contracts §B2-§B5), rendered from the store at one instant.

Test cases carry the keys both SDKs read (§C-14): ``test_case_id``, ``variables``, ``history``,
``custom_metadata``, ``media_variables``, ``test_case_type`` -- plus ``output``/``output_message`` only
when the run asked for ``include_outputs`` -- and, with the world's ``doc_aliases``, the documented aliases
``id``, ``values`` and ``metadata`` as well. ``created_at`` is integer Unix seconds, statuses are hyphenated
(``in-progress``), and ``summary_statistics`` always has its three keys (``{}`` when there is nothing).
"""

from __future__ import annotations

from typing import Any

from runner.simulator.freeplay_evals import JSON, suite_passed, summarise
from runner.simulator.freeplay_state import FpRun, FreeplayState
from runner.simulator.freeplay_world import FpCase, FpDataset, FpSuite, derived_uuid


class FpRenderer:
    def __init__(self, state: FreeplayState, *, epoch: float) -> None:
        self.state = state
        self.world = state.world
        self.epoch = epoch  # unix time of simulated second 0

    def unix(self, t: float) -> int:
        return int(self.epoch + t)

    # -- test cases ------------------------------------------------------------------------------------------

    def case(self, case: FpCase, kind: str, include_outputs: bool) -> JSON:
        metadata = dict(case.metadata)
        if kind == "trace":
            item: JSON = {
                "test_case_id": case.id,
                "input": case.input,
                "output": case.answer if include_outputs else None,
                "custom_metadata": metadata,
                "test_case_type": "trace",
            }
        else:
            answer = {"role": "assistant", "content": [{"type": "text", "text": case.answer}]}
            item = {
                "test_case_id": case.id,
                "variables": dict(case.variables or {}),
                "output_message": answer if include_outputs else None,
                "history": None if case.history is None else [dict(m) for m in case.history],
                "custom_metadata": metadata,
                "media_variables": None,
                "test_case_type": "completion",
            }
            if include_outputs:
                item["output"] = case.answer
        if self.world.doc_aliases:
            item["id"] = case.id
            item["metadata"] = metadata
            if kind == "completion":
                item["values"] = dict(case.variables or {})
        return item

    def created(self, run: FpRun) -> JSON:
        cases = [self.case(c, run.dataset.kind, run.include_outputs) for c in run.dataset.cases]
        trace = run.dataset.kind == "trace"
        return {
            "test_run_id": run.id,
            "test_run_name": run.name,
            "test_run_description": run.description,
            "test_cases": [] if trace else cases,
            "trace_test_cases": cases if trace else [],
        }

    # -- test runs -------------------------------------------------------------------------------------------

    def summary(self, run: FpRun, t: float) -> JSON:
        shapes = {name: self.world.criteria[name].shape for name in run.criteria}
        client = self.state.client_grades(run, t)
        return {
            "auto_evaluation": summarise(shapes, self.state.auto_grades(run, t)),
            "human_evaluation": {},
            "client_evaluation": summarise({n: self.world.client_shape for n, _ in client}, client),
        }

    def detail(self, run: FpRun) -> JSON:
        t = self.state.now()
        return {
            "id": run.id,
            "test_run_id": run.id,  # the Node SDK reads this key (§C-16)
            "name": run.name,
            "description": run.description,
            "status": self.state.status(run, t),
            "created_at": self.unix(run.created_at),
            "sessions_count": self.state.sessions_count(run, t),
            "prompt_name": run.dataset.prompt_name,
            "prompt_version": run.dataset.prompt_version,
            "model_name": run.flavor_name,
            "summary_statistics": self.summary(run, t),
        }

    def list_item(self, run: FpRun, base: str) -> JSON:
        t = self.state.now()
        return {
            "id": run.id,
            "created_at": self.unix(run.created_at),
            "details_url": f"{base}/projects/{run.project}/test-runs/{run.id}",
            "test_list_info": {"id": run.dataset.id, "name": run.dataset.name},
            "prompt_name": run.dataset.prompt_name,
            "prompt_version": run.dataset.prompt_version,
            "environment": run.environment,
            "sessions_count": self.state.sessions_count(run, t),
            "status": self.state.status(run, t),
            "name": run.name,
            "description": run.description,
        }

    # -- suites ----------------------------------------------------------------------------------------------

    def prompt_template(self, dataset: FpDataset) -> JSON | None:
        if dataset.kind != "completion":
            return None
        name = dataset.prompt_name or dataset.name
        version = dataset.prompt_version or "1"
        variables = list(dataset.cases[0].variables or {})
        return {
            "prompt_template_id": derived_uuid(dataset.project, "prompt", name),
            "prompt_template_version_id": derived_uuid(dataset.project, "prompt", name, version),
            "prompt_template_name": name,
            "content": [
                {"role": "system", "content": "You are a concise, friendly customer-support assistant."},
                {"role": "user", "content": " ".join("{{" + v + "}}" for v in variables)},
            ],
            "metadata": {
                "provider": "openai",
                "flavor": "openai_chat",
                "model": "gpt-4o-mini",
                "params": {"temperature": 0.2},
                "provider_info": {},
            },
            "format_version": 3,
            "project_id": dataset.project,
            "tool_schema": None,
            "output_schema": None,
        }

    def suite_run(self, run: FpRun, suite: FpSuite) -> JSON:
        return {
            "run_id": run.id,
            "suite_id": suite.id,
            "target_type": run.dataset.target_type,
            "total_test_cases": len(run.dataset.cases),
            "prompt_template": self.prompt_template(run.dataset),
        }

    def suite_results(self, run: FpRun, suite: FpSuite) -> JSON:
        t = self.state.now()
        status = self.state.status(run, t)
        passed: bool | None = None
        eval_results: Any = None
        if status == "complete":
            passed, eval_results = suite_passed(suite, self.state.auto_grades(run, t))
        return {
            "run_id": run.id,
            "suite_id": suite.id,
            "status": status,
            "passed": passed,
            "eval_results": eval_results,
            "summary_statistics": self.summary(run, t),
        }
