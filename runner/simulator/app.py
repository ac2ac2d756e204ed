"""The simulator's HTTP semantics as a pure function: ``SimApp.handle(SimRequest) -> SimResponse``.

Routing, authentication, fault injection and request statistics live here; the transports
(``transport.mock_transport`` in-process, ``server.SimServer`` on loopback) only move bytes and carry out
``delay``/``reset``. Every path is served with and without its trailing slash (a POST is never redirected),
and v1, ``-external`` and v2 paths share one store (api-contracts §A1.1, §A1.4, §A12). The Freeplay API
(api-contracts Part B) is served by the same app under ``/api/v2`` (``freeplay_app.FreeplayApi``), sharing
the clock, seed, accepted keys, request statistics and fault injector.

Order of work for an API request: route (404/405) -> count it -> decide its fault (a refusing fault answers
now) -> authenticate (401) -> handle (400 with a DRF body on bad input) -> apply a processed fault.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from runner.simulator.aggregates import JSON
from runner.simulator.faults import REFUSING, Fault, FaultInjector, FaultKind, FaultPlan, apply_fault, refusal
from runner.simulator.freeplay_app import FreeplayApi
from runner.simulator.json_spec import parse_json_start
from runner.simulator.modes import MODES, invalid_pk
from runner.simulator.state import TERMINAL, Clock, ResultRecord, SimState
from runner.simulator.validate import Fields, Invalid, as_int
from runner.simulator.views import Renderer
from runner.simulator.wire import HttpError, SimRequest, SimResponse, json_response, not_found
from runner.simulator.world import World

__all__ = ["ROUTES", "SimApp", "SimRequest", "SimResponse"]

DEFAULT_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: simulated second 0, so timestamps are reproducible
MAX_PAGE_SIZE = 100
RUN_WRITABLE = (
    "success",
    "evaluation_status",
    "is_reviewed",
    "feedback",
    "error_message",
    "scenario_instructions",
    "trace_id",
)
EVALUATION_STATUSES = ("success", "failure", "reviewed_success", "reviewed_failure")


Handler = Callable[[SimRequest, Mapping[str, str], bool], SimResponse]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    group: str  # fault group
    handler: str


_TF = r"/test_framework/(?:v1|v2)"
_DETAIL = re.compile(r"GET /test_framework/v[12]/results(?:-external)?/\{id\}/")  # request counter keys
_RUNS_LIST = re.compile(r"GET /test_framework/v[12]/runs(?:-external)?/")
_RES = rf"{_TF}/results(?:-external)?"
_RUN = rf"{_TF}/runs(?:-external)?"
ROUTES = tuple(
    _Route(method, re.compile(pattern), group, handler)
    for method, pattern, group, handler in (
        ("POST", rf"{_TF}/scenarios(?:-external)?/(?P<endpoint>{'|'.join(MODES)})", "start", "start"),
        ("GET", _RES, "list", "list_results"),
        ("GET", rf"{_RES}/(?P<id>\d+)", "results", "get_result"),
        ("POST", rf"{_RES}/(?P<id>\d+)/end_calls", "actions", "end_calls"),
        ("POST", rf"{_RES}/(?P<id>\d+)/create_shareable_link_token", "actions", "share"),
        ("POST", rf"{_RES}/(?P<id>\d+)/rerun", "actions", "rerun"),
        ("POST", rf"{_RES}/(?P<id>\d+)/evaluate_metrics", "actions", "evaluate_metrics"),
        ("GET", _RUN, "runlist", "list_runs"),
        ("GET", rf"{_RUN}/bulk", "runs", "runs_bulk"),
        ("GET", rf"{_RUN}/(?P<id>\d+)", "runs", "get_run"),
        ("PATCH", rf"{_RUN}/(?P<id>\d+)", "runs", "patch_run"),
        ("POST", r"/test_framework/test-sets/create_from_run", "testsets", "create_test_set"),
    )
)


class SimApp:
    """One simulated Cekura tenant. Not thread-safe: the server serialises calls with a lock."""

    def __init__(
        self,
        world: World,
        *,
        clock: Clock,
        seed: int = 0,
        faults: FaultPlan | None = None,
        base_url_hint: str = "http://127.0.0.1",
        api_keys: Sequence[str] = (),
        metric_style: str | None = None,
        epoch: float = DEFAULT_EPOCH,
    ) -> None:
        self.world = world
        self.seed = seed
        self.state = SimState(world, clock=clock, seed=seed)
        self.faults = FaultInjector(faults, seed)
        self.base_url_hint = base_url_hint.rstrip("/")
        self.api_keys = tuple(api_keys) or world.api_keys
        self.render = Renderer(self.state, epoch=epoch, metric_style=metric_style or world.metric_style)
        self.requests: Counter[str] = Counter()
        self.detections: dict[int, tuple[float, float]] = {}  # result id -> (terminal at, first seen)
        self._handlers: dict[str, Handler] = {r.handler: getattr(self, "_" + r.handler) for r in ROUTES}
        self.freeplay = FreeplayApi(
            world.freeplay,
            clock=clock,
            seed=seed,
            epoch=epoch,
            faults=self.faults,
            requests=self.requests,
            api_keys=self.api_keys,
            base=self._base,
        )

    # -- entry point -----------------------------------------------------------------------------------------

    def handle(self, req: SimRequest) -> SimResponse:
        method = req.method.upper()
        norm = req.path.rstrip("/") or "/"
        if norm == "/__sim/health":
            return json_response(200, {"status": "ok"})
        if norm == "/__sim/stats":
            return json_response(200, self.stats())
        if self.freeplay.owns(norm):
            return self.freeplay.handle(method, norm, req)
        matches = [(r, m) for r in ROUTES if (m := r.pattern.fullmatch(norm))]
        template = re.sub(r"/\d+(?=/|$)", "/{id}", norm) + "/" if matches else "(unmatched)"
        self.requests[f"{method} {template}"] += 1
        if not matches:
            return json_response(404, {"detail": "Not found."})
        found = next(((r, m) for r, m in matches if r.method == method), None)
        if found is None:
            allow = ", ".join(sorted({r.method for r, _ in matches}))
            return json_response(405, {"detail": f'Method "{method}" not allowed.'}, (("Allow", allow),))
        route, match = found
        fault = self.faults.decide(route.group)
        if fault is not None and fault.kind in REFUSING:
            self.faults.record(fault)
            return refusal(fault)
        response = self._authenticate(req.headers) or self._dispatch(route, match, req, fault)
        return response if fault is None else self._apply(fault, response)

    def _dispatch(
        self, route: _Route, match: re.Match[str], req: SimRequest, fault: Fault | None
    ) -> SimResponse:
        stalled = fault is not None and fault.kind is FaultKind.NEVER
        try:
            return self._handlers[route.handler](req, match.groupdict(), stalled)
        except Invalid as exc:
            return json_response(400, exc.body)
        except HttpError as exc:
            return json_response(exc.status, exc.payload)

    def stats(self) -> JSON:
        return {
            "total": sum(self.requests.values()),
            "requests": dict(sorted(self.requests.items())),
            "faults": dict(sorted(self.faults.injected.items())),
            "results": len(self.state.results),
            "runs": len(self.state.runs),
            "run_updates": len(self.state.run_updates),
            "test_sets": len(self.state.test_sets),
            "test_runs": len(self.freeplay.state.runs),
            "clock": round(self.state.now(), 3),
            "detection": self._detection_stats(),
        }

    def _detection_stats(self) -> JSON:
        """Detection lag (simulated seconds from a result's terminal status to the first poll that saw it)
        and polls per result: what ``benchmarks/`` compares pollers by. A poll is a result detail or a
        progress probe (the runs list); both are counted, and each on its own."""
        lags = sorted(max(0.0, seen - ended) for ended, seen in self.detections.values())
        details = sum(n for key, n in self.requests.items() if _DETAIL.fullmatch(key))
        probes = sum(n for key, n in self.requests.items() if _RUNS_LIST.fullmatch(key))
        results = len(self.state.results)

        def at(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, int(q * len(lags)))], 3) if lags else None

        def per_result(n: int) -> float | None:
            return round(n / results, 2) if results else None

        return {"results": len(lags), "lag_p50": at(0.5), "lag_p95": at(0.95), "lag_max": at(1.0),
                "polls_per_result": per_result(details + probes), "details_per_result": per_result(details),
                "probes_per_result": per_result(probes)}  # fmt: skip

    def _authenticate(self, headers: Mapping[str, str]) -> SimResponse | None:
        key = headers.get("x-cekura-api-key", "").strip()
        if not key:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else ""
        if not key:
            return json_response(401, {"detail": "Authentication credentials were not provided."})
        if self.api_keys and not any(hmac.compare_digest(key, valid) for valid in self.api_keys):
            return json_response(401, {"detail": "Invalid API key."})
        return None

    def _apply(self, fault: Fault, response: SimResponse) -> SimResponse:
        return apply_fault(self.faults, fault, response)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _base(self, req: SimRequest) -> str:
        host = req.headers.get("host")
        return f"http://{host}" if host else self.base_url_hint

    def _body(self, req: SimRequest) -> dict[str, Any]:
        ctype = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if req.body.strip() and ctype != "application/json":
            raise HttpError(415, {"detail": f'Unsupported media type "{ctype}" in request.'})
        if not req.body.strip():
            return {}
        try:
            data = json.loads(req.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, {"detail": f"JSON parse error - {exc}"}) from None
        if not isinstance(data, dict):
            message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
            raise Invalid({"non_field_errors": [message]})
        return data

    def _result_id(self, params: Mapping[str, str]) -> int:
        rid = int(params["id"])
        if rid not in self.state.results:
            raise not_found()
        return rid

    def _run_id(self, params: Mapping[str, str]) -> int:
        run_id = int(params["id"])
        if run_id not in self.state.runs:
            raise not_found()
        return run_id

    # -- handlers --------------------------------------------------------------------------------------------

    def _start(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        mode = MODES[params["endpoint"]]
        fields = Fields(self._body(req))
        dry_run = (req.query.get("dry_run") or ["false"])[-1].lower() in ("true", "1", "yes")
        if mode.endpoint == "run_scenarios_json" and dry_run:  # a plan only: nothing created or charged
            return json_response(200, parse_json_start(fields, self.state, dry_run=True))
        spec = mode.parse(fields, self.state, mode)
        result = self.state.create_result(spec, stalled=stalled)
        payload = self.render.list_item(result) if mode.full_result else self.render.summary(result)
        return json_response(mode.status, payload)

    def _get_result(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        result = self.state.results[self._result_id(params)]
        body = self.render.detail(result)
        self._note_detection(result, body)
        return json_response(200, body)

    def _note_detection(self, result: ResultRecord, body: JSON) -> None:
        """For benchmarks: when a result became terminal (simulated time), when a client first saw it."""
        if result.id in self.detections or not isinstance(body, dict) or body.get("status") not in TERMINAL:
            return
        ends = [self.state.runs[rid].timeline.finished_at for rid in result.run_ids]
        ended = (
            result.cancelled_at if result.cancelled_at is not None else max(ends, default=result.created_at)
        )
        self.detections[result.id] = (ended, self.state.now())

    def _list_results(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        q = {k: v[-1] for k, v in req.query.items() if v}
        filters: dict[str, int] = {}
        for key in ("agent_id", "project_id"):
            if key in q:
                value = as_int(q[key])
                if value is None:
                    raise Invalid({key: ["Enter a number."]})
                filters[key] = value
        wanted: set[int] = set()
        if q.get("scenarios"):
            parts = [as_int(p) for p in q["scenarios"].split(",")]
            if any(p is None for p in parts):
                raise Invalid(
                    {"scenarios": ["Enter a comma-separated list of scenario ids, e.g. 24270,24271."]}
                )
            wanted = {p for p in parts if p is not None}
        search = q.get("search", "").lower()
        items = []
        for result in sorted(self.state.results.values(), key=lambda r: -r.id):
            agent = self.world.agents[result.spec.agent_id]
            if (
                filters.get("agent_id", agent.id) != agent.id
                or filters.get("project_id", agent.project) != agent.project
            ):
                continue
            if search and search not in self.render.result_name(result).lower():
                continue
            if wanted and not wanted & {self.state.runs[r].plan.scenario_id for r in result.run_ids}:
                continue
            items.append(result)
        return self._page(req, q, items, self.render.list_item)

    def _page(
        self, req: SimRequest, q: Mapping[str, str], items: Sequence[T], render: Callable[[T], JSON]
    ) -> SimResponse:
        """DRF page-number pagination (api-contracts §A1.6): ``count`` of every match, one page of them."""
        size = as_int(q.get("page_size", "")) or self.world.page_size
        size = max(1, min(size, MAX_PAGE_SIZE))
        page = as_int(q.get("page", "1"))
        pages = max(1, math.ceil(len(items) / size))
        if page is None or not 1 <= page <= pages:
            raise HttpError(404, {"detail": "Invalid page."})

        def link(n: int) -> str:
            query = {k: v for k, v in q.items() if k != "page"}
            if n > 1:  # like DRF, the link to page 1 carries no page parameter
                query["page"] = str(n)
            return f"{self._base(req)}{req.path}" + (f"?{urlencode(query)}" if query else "")

        return json_response(
            200,
            {
                "count": len(items),
                "next": link(page + 1) if page < pages else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": [render(item) for item in items[(page - 1) * size : page * size]],
            },
        )

    def _end_calls(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        self.state.end_calls(self._result_id(params))
        return SimResponse(200)

    def _share(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        rid = self._result_id(params)
        fields = Fields(self._body(req))
        expire_at = fields.datetime_("expire_at")
        fields.check()
        digest = hashlib.sha256(f"{self.seed}:{rid}:{expire_at}".encode()).hexdigest()[:40]
        link = f"{self._base(req)}/shared/results/{rid}/?token={digest}"
        return json_response(200, {"token": digest, "shareable_link": link})

    def _rerun(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        self._body(req)  # the body is ignored, but must still be well-formed
        return json_response(200, self.render.list_item(self.state.rerun(self._result_id(params))))

    def _evaluate_metrics(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        result = self.state.results[self._result_id(params)]
        fields = Fields(self._body(req))
        run_ids = fields.int_list("run_ids", required=True, nullable=False)
        metric_ids = fields.int_list("metric_ids", required=True, nullable=False)
        fields.check()
        for rid in run_ids or []:
            if rid not in result.run_ids:
                raise Invalid({"run_ids": [invalid_pk(rid)]})
        for mid in metric_ids or []:
            if mid not in self.world.metrics:
                raise Invalid({"metric_ids": [invalid_pk(mid)]})
        # Scores are deterministic, so re-scoring yields the same values: only the response matters here.
        return json_response(200, self.render.list_item(result))

    def _list_runs(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        """``GET runs-external/``: runs filtered by ``result_id``/``agent_id``/``project_id`` (one is
        required, api-contracts §A10) and ``status``/``status__in`` (comma-separated), paginated by id."""
        q = {k: v[-1] for k, v in req.query.items() if v}
        scope: dict[str, int] = {}
        for key in ("result_id", "agent_id", "project_id"):
            if key in q:
                value = as_int(q[key])
                if value is None:
                    raise Invalid({key: ["Enter a number."]})
                scope[key] = value
        if not scope:
            raise Invalid({"detail": ["One of result_id, agent_id or project_id is required."]})
        wanted: set[str] | None = None  # None: any status
        if q.get("status__in"):
            wanted = {part.strip() for part in q["status__in"].split(",") if part.strip()}
        if q.get("status"):
            wanted = {q["status"].strip()} & (wanted if wanted is not None else {q["status"].strip()})
        now = self.state.now()
        found = []
        for result in sorted(self.state.results.values(), key=lambda r: r.id):
            agent = self.world.agents[result.spec.agent_id]
            if (
                scope.get("result_id", result.id) != result.id
                or scope.get("agent_id", agent.id) != agent.id
                or scope.get("project_id", agent.project) != agent.project
            ):
                continue
            states = self.state.run_states(result, now)
            found += [rs for rs in states if wanted is None or rs.status in wanted]
        return self._page(req, q, found, self.render.run)

    def _runs_bulk(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        key = "run_ids" if "run_ids" in req.query else "ids"
        raw = ",".join(req.query.get(key, [])).strip()
        if not raw:
            raise Invalid({"run_ids": ["This field is required."]})
        if raw.startswith("["):
            raise Invalid({key: ["Enter comma-separated run ids, e.g. 1,2,3 (not a JSON array)."]})
        ids = [as_int(p) for p in raw.split(",") if p.strip()]
        if any(i is None for i in ids):
            raise Invalid({key: ["Enter comma-separated run ids, e.g. 1,2,3."]})
        found = sorted({i for i in ids if i is not None and i in self.state.runs})
        now = self.state.now()
        return json_response(
            200, [self.render.run(self.state.run_state(self.state.runs[i], now)) for i in found]
        )

    def _get_run(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        run = self.state.runs[self._run_id(params)]
        return json_response(200, self.render.run(self.state.run_state(run)))

    def _patch_run(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        run_id = self._run_id(params)
        body = self._body(req)
        fields = Fields(body)
        for key in body:
            if key not in RUN_WRITABLE:
                fields.fail(key, "This field is read-only.")
        fields.bool_("success")
        fields.bool_("is_reviewed")
        fields.choice("evaluation_status", EVALUATION_STATUSES)
        for key in ("feedback", "error_message", "scenario_instructions"):
            fields.str_(key, nullable=False)
        trace = fields.str_("trace_id", nullable=False)
        if trace and not re.fullmatch(r"[0-9a-f]{32}", trace):
            fields.fail("trace_id", "Enter a valid trace id: 32 lowercase hex characters.")
        fields.check()
        run = self.state.patch_run(run_id, body)
        return json_response(200, self.render.run(self.state.run_state(run)))

    def _create_test_set(self, req: SimRequest, params: Mapping[str, str], stalled: bool) -> SimResponse:
        fields = Fields(self._body(req))
        run_id = fields.int_("run_id", required=True, nullable=False)

        def review(sub: Fields) -> tuple[int, str, Any]:
            metric = sub.int_("metric", required=True, nullable=False)
            if metric is not None and metric not in self.world.metrics:
                sub.fail("metric", invalid_pk(metric))
            feedback = sub.str_("feedback") or ""
            return metric or 0, feedback, sub.any_("expected_value")

        reviews = fields.obj_list("metrics", review, required=True)
        project = fields.int_("project")
        name = fields.str_("name", max_length=255) or ""
        fields.check()
        if run_id is None or run_id not in self.state.runs:
            raise Invalid({"run_id": [invalid_pk(run_id)]})
        test_set = self.state.test_set_for(run_id, name, project, tuple(reviews or ()))
        return json_response(200, self.render.test_set(test_set))
