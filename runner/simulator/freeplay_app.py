"""The Freeplay API of the simulator (api-contracts Part B, §B8), served by ``SimApp`` under ``/api/v2``.

Every path is served with and without a trailing slash (the real API has none), requires
``Authorization: Bearer <key>`` and answers errors as ``{"message": "..."}``: 401 for a missing or refused
key, 404 for an unknown project, dataset, suite, run or path, 400 for a malformed body or id. Ids in paths
are UUIDs; a session, trace or completion id that is not one is a 400 (``Session ID 456 is not a valid
uuid4 format.``), an unknown project or run id a 404.

Order of work, as on the Cekura side: route (404/405) -> count it -> decide its fault (a refusing fault
answers now) -> authenticate (401) -> handle -> apply a processed fault (``faults.apply_fault``). The
``never`` and ``fail`` faults on ``fp-create`` decide the created run's fate (see ``freeplay_state``).
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.simulator.faults import REFUSING, Fault, FaultInjector, FaultKind, apply_fault, refusal
from runner.simulator.freeplay_evals import message_text, output_text
from runner.simulator.freeplay_state import Clock, EvalPairs, FpRun, FreeplayState
from runner.simulator.freeplay_views import FpRenderer
from runner.simulator.freeplay_world import FpDataset, FpSuite, FreeplayWorld, is_uuid
from runner.simulator.wire import HttpError, SimRequest, SimResponse, json_response

PREFIX = "/api/v2"
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
UNAUTHENTICATED = "Requests must be authenticated with a valid API key."

Handler = Callable[[SimRequest, Mapping[str, str], Fault | None], SimResponse]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    group: str
    handler: str


_P = PREFIX + "/projects/{project_id}"
_SUITE = _P + "/test-suites/{suite_id}/runs"
ROUTES = tuple(
    _Route(method, template, re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)), group, handler)
    for method, template, group, handler in (
        ("POST", _P + "/test-runs", "fp-create", "create_run"),
        ("GET", _P + "/test-runs", "fp-list", "list_runs"),
        ("GET", _P + "/test-runs/id/{test_run_id}", "fp-results", "get_run"),
        ("POST", _P + "/sessions/{session_id}/completions", "fp-record", "record_completion"),
        ("POST", _P + "/completions/{completion_id}", "fp-record", "update_completion"),
        ("POST", _P + "/sessions/{session_id}/traces/id/{trace_id}", "fp-record", "record_trace"),
        ("PATCH", _P + "/sessions/{session_id}/traces/id/{trace_id}", "fp-record", "update_trace"),
        ("POST", _SUITE, "fp-create", "suite_run"),
        ("POST", _SUITE + "/execute", "fp-create", "suite_execute"),
        ("GET", _SUITE + "/{run_id}/test-cases", "fp-cases", "suite_cases"),
        ("GET", _SUITE + "/{run_id}/results", "fp-results", "suite_results"),
    )
)


def error(status: int, message: str) -> HttpError:
    return HttpError(status, {"message": message})


def _uuid_arg(value: str, what: str) -> str:
    if not is_uuid(value):
        raise error(400, f"{what} ID {value} is not a valid uuid4 format.")
    return value.lower()


def _opt(body: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    """An optional field of one JSON type (null = absent); 400 naming the field otherwise."""
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise error(400, f"{key} must be {what}")
    return value


def _eval_results(body: Mapping[str, Any]) -> EvalPairs:
    raw = _opt(body, "eval_results", dict, "an object of name -> boolean or number")
    pairs: list[tuple[str, bool | float]] = []
    for name, value in (raw or {}).items():
        if not isinstance(value, bool | int | float) or not (isinstance(value, bool) or math.isfinite(value)):
            raise error(400, f"eval_results.{name} must be a boolean or a finite number")
        pairs.append((name, value if isinstance(value, bool) else float(value)))
    return tuple(pairs)


def _page(req: SimRequest, key: str, default: int) -> int:
    raw = (req.query.get(key) or [str(default)])[-1]
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise error(400, f"{key} must be a positive integer")
    return int(raw)


class FreeplayApi:
    """One simulated Freeplay account, sharing the request counter and fault injector of its ``SimApp``."""

    def __init__(
        self,
        world: FreeplayWorld,
        *,
        clock: Clock,
        seed: int,
        epoch: float,
        faults: FaultInjector,
        requests: Counter[str],
        api_keys: tuple[str, ...],
        base: Callable[[SimRequest], str],
    ) -> None:
        self.world = world
        self.state = FreeplayState(world, clock=clock, seed=seed)
        self.render = FpRenderer(self.state, epoch=epoch)
        self.faults = faults
        self.requests = requests
        self.api_keys = api_keys
        self.base = base
        self._handlers: dict[str, Handler] = {r.handler: getattr(self, "_" + r.handler) for r in ROUTES}

    @staticmethod
    def owns(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def handle(self, method: str, norm: str, req: SimRequest) -> SimResponse:
        matches = [(r, m) for r in ROUTES if (m := r.pattern.fullmatch(norm))]
        found = next(((r, m) for r, m in matches if r.method == method), None)
        template = (found or matches[0])[0].template if matches else "(unmatched)"
        self.requests[f"{method} {template}"] += 1
        if not matches:
            return json_response(404, {"message": "Not found"})
        if found is None:
            allow = ", ".join(sorted({r.method for r, _ in matches}))
            return json_response(405, {"message": "Method not allowed"}, (("Allow", allow),))
        route, match = found
        fault = self.faults.decide(route.group)
        if fault is not None and fault.kind in REFUSING:
            self.faults.record(fault)
            return refusal(fault, freeplay=True)
        response = self._authenticate(req.headers)
        if response is None:
            try:
                response = self._handlers[route.handler](req, match.groupdict(), fault)
            except HttpError as exc:
                response = json_response(exc.status, exc.payload)
        return response if fault is None else apply_fault(self.faults, fault, response, freeplay=True)

    def _authenticate(self, headers: Mapping[str, str]) -> SimResponse | None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
        if not key or (self.api_keys and not any(hmac.compare_digest(key, k) for k in self.api_keys)):
            return json_response(401, {"message": UNAUTHENTICATED})
        return None

    # -- helpers ---------------------------------------------------------------------------------------------

    def _body(self, req: SimRequest) -> dict[str, Any]:
        ctype = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if req.body.strip() and ctype != "application/json":
            raise error(415, f"Unsupported content type {ctype}; send application/json")
        try:
            data = json.loads(req.body) if req.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise error(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise error(400, "The request body must be a JSON object.")
        return data

    def _project(self, params: Mapping[str, str]) -> str:
        project = params["project_id"].lower()
        if project not in self.world.projects:
            raise error(404, "Project not found")
        return project

    def _run(self, project: str, run_id: str) -> FpRun:
        run = self.state.runs.get(run_id.lower())
        if run is None or run.project != project:
            raise error(404, "Test run not found")
        return run

    def _suite(self, params: Mapping[str, str]) -> tuple[FpSuite, FpDataset]:
        project = self._project(params)
        suite = self.world.suites.get(params["suite_id"].lower())
        if suite is None or suite.project != project:
            raise error(404, "Test suite not found")
        return suite, self.world.datasets[(project, suite.dataset)]

    def _find_suite_run(self, params: Mapping[str, str]) -> tuple[FpSuite, FpRun]:
        suite, _ = self._suite(params)
        run = self.state.runs.get(params["run_id"].lower())
        if run is None or run.suite_id != suite.id:
            raise error(404, "Test suite run not found")
        return suite, run

    @staticmethod
    def _fate(fault: Fault | None) -> str:
        if fault is None:
            return "complete"
        return {FaultKind.NEVER: "never", FaultKind.FAIL: "failed"}.get(fault.kind, "complete")

    def _linked_run(self, project: str, body: Mapping[str, Any], kind: str) -> tuple[FpRun, str] | None:
        """The run and test case a recording's ``test_run_info`` names (400 when they do not fit)."""
        info = _opt(body, "test_run_info", dict, "an object {test_run_id, test_case_id}")
        if info is None:
            return None
        run_id, case_id = info.get("test_run_id"), info.get("test_case_id")
        if not isinstance(run_id, str) or not isinstance(case_id, str):
            raise error(400, "test_run_info needs test_run_id and test_case_id strings")
        run = self.state.runs.get(run_id.lower())
        if run is None or run.project != project:
            raise error(400, f"Test run {run_id} not found")
        case = run.case(case_id)
        if case is None:
            raise error(400, f"Test case {case_id} is not part of test run {run_id}")
        if run.dataset.kind != kind:
            other = "a completion" if run.dataset.kind == "completion" else "a trace"
            raise error(400, f"Test case {case_id} is {other} test case; record it as {other}")
        return run, case.id

    def _store(
        self, project: str, body: Mapping[str, Any], kind: str, rec_id: str, session: str, text: str
    ) -> None:
        linked = self._linked_run(project, body, kind)
        evals = _eval_results(body)
        if linked is None:
            self.state.loose.add(f"{kind}:{rec_id}")
            return
        run, case_id = linked
        self.state.record(
            run,
            kind=kind,
            record_id=rec_id,
            session_id=session,
            case_id=case_id,
            text=text,
            eval_results=evals,
        )

    # -- test runs -------------------------------------------------------------------------------------------

    def _create_run(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        project = self._project(params)
        body = self._body(req)
        name = body.get("dataset_name")
        if not isinstance(name, str) or not name.strip():
            raise error(400, "dataset_name is required")
        include = _opt(body, "include_outputs", bool, "a boolean") or False
        run_name = _opt(body, "test_run_name", str, "a string")
        description = _opt(body, "test_run_description", str, "a string") or ""
        flavor = _opt(body, "flavor_name", str, "a string")
        wanted = _opt(body, "target_evaluation_ids", list, "a list of evaluation ids")
        dataset = self.world.datasets.get((project, name))
        if dataset is None:
            raise error(404, f"Dataset '{name}' not found")
        criteria = dataset.criteria
        if wanted is not None:
            chosen = set()
            for eid in wanted:
                criterion = self.world.criterion_by_id(eid) if is_uuid(eid) else None
                if criterion is None:
                    raise error(400, f"Evaluation {eid} not found in this project")
                chosen.add(criterion.name)
            criteria = tuple(c for c in criteria if c in chosen)
        run = self.state.create_run(
            dataset,
            name=run_name or f"{dataset.name} test run {len(self.state.runs) + 1}",
            description=description,
            criteria=criteria,
            include_outputs=include,
            flavor_name=flavor,
            fate=self._fate(fault),
        )
        return json_response(201, self.render.created(run))

    def _list_runs(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        project = self._project(params)
        page, size = _page(req, "page", 1), min(_page(req, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        runs = [r for r in reversed(self.state.runs.values()) if r.project == project]
        base = self.base(req)
        items = [self.render.list_item(r, base) for r in runs[(page - 1) * size : page * size]]
        return json_response(200, {"test_runs": items})

    def _get_run(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        run = self._run(self._project(params), params["test_run_id"])
        return json_response(200, self.render.detail(run))

    # -- recordings ------------------------------------------------------------------------------------------

    def _record_completion(
        self, req: SimRequest, params: Mapping[str, str], fault: Fault | None
    ) -> SimResponse:
        project = self._project(params)
        session = _uuid_arg(params["session_id"], "Session")
        body = self._body(req)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise error(400, "messages is required: a non-empty list of message objects")
        completion_id = _opt(body, "completion_id", str, "a uuid string")
        if completion_id is None:
            completion_id = self.state.new_id()
        completion_id = _uuid_arg(completion_id, "Completion")
        self._store(project, body, "completion", completion_id, session, message_text(messages[-1]))
        return json_response(201, {"completion_id": completion_id})

    def _update_completion(
        self, req: SimRequest, params: Mapping[str, str], fault: Fault | None
    ) -> SimResponse:
        project = self._project(params)
        completion_id = _uuid_arg(params["completion_id"], "Completion")
        body = self._body(req)
        messages = _opt(body, "new_messages", list, "a list of message objects")
        evals = _eval_results(body)
        key = f"completion:{completion_id}"
        run = self.state.holding(project, key)
        if run is None and key not in self.state.loose:
            raise error(404, "Completion not found")
        if run is not None:
            text = message_text(messages[-1]) if messages and isinstance(messages[-1], dict) else None
            self.state.update(run, key, text=text, eval_results=evals)
        return json_response(200, {"completion_id": completion_id})

    def _record_trace(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        project = self._project(params)
        session = _uuid_arg(params["session_id"], "Session")
        trace_id = _uuid_arg(params["trace_id"], "Trace")
        body = self._body(req)
        for key in ("input", "output"):
            if key not in body:
                raise error(400, f"{key} is required")
        self._store(project, body, "trace", trace_id, session, output_text(body["output"]))
        return json_response(201, {"trace_id": trace_id})

    def _update_trace(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        project = self._project(params)
        session = _uuid_arg(params["session_id"], "Session")
        trace_id = _uuid_arg(params["trace_id"], "Trace")
        body = self._body(req)
        fields = ("output", "metadata", "feedback", "eval_results", "test_run_info")
        if not any(k in body for k in fields):
            raise error(400, f"Provide at least one of {', '.join(fields)}")
        key = f"trace:{trace_id}"
        run = self.state.holding(project, key)
        if run is None and key not in self.state.loose:
            raise error(404, "Trace not found")
        text = output_text(body["output"]) if "output" in body else None
        if run is not None:
            self.state.update(run, key, text=text, eval_results=_eval_results(body))
        elif "test_run_info" in body:  # linking a loose trace to a test case records it now
            self._store(project, body, "trace", trace_id, session, text or "")
        return json_response(200, {"trace_id": trace_id})

    # -- test suites -----------------------------------------------------------------------------------------

    def _new_suite_run(
        self, req: SimRequest, params: Mapping[str, str], fault: Fault | None
    ) -> tuple[FpSuite, FpRun]:
        suite, dataset = self._suite(params)
        body = self._body(req)
        _opt(body, "is_sdk", bool, "a boolean")
        _opt(body, "prompt_template_version_id", str, "a string")
        environment = _opt(body, "environment", str, "a string")
        name = _opt(body, "name", str, "a string")
        run = self.state.create_run(
            dataset,
            name=name or f"{suite.name} run {len(self.state.runs) + 1}",
            description="",
            criteria=dataset.criteria,
            suite_id=suite.id,
            environment=environment,
            fate=self._fate(fault),
        )
        return suite, run

    def _suite_run(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        suite, run = self._new_suite_run(req, params, fault)
        return json_response(201, self.render.suite_run(run, suite))

    def _suite_execute(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        suite, run = self._new_suite_run(req, params, fault)
        self.state.execute(run, suite)
        return json_response(201, self.render.suite_results(run, suite))

    def _suite_cases(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        _, run = self._find_suite_run(params)
        page, size = _page(req, "page", 1), min(_page(req, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        cases = run.dataset.cases
        data = [self.render.case(c, run.dataset.kind, False) for c in cases[(page - 1) * size : page * size]]
        pagination = {"page": page, "page_size": size, "has_next": page * size < len(cases)}
        return json_response(200, {"data": data, "pagination": pagination})

    def _suite_results(self, req: SimRequest, params: Mapping[str, str], fault: Fault | None) -> SimResponse:
        suite, run = self._find_suite_run(params)
        return json_response(200, self.render.suite_results(run, suite))
