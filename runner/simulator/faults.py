"""Fault injection for the simulator: a compact spec, and a deterministic decision per request.

Grammar (whitespace around tokens is ignored; rules are separated by ``;`` or ``,``)::

    SPEC   := RULE { ";" RULE }
    RULE   := GROUP ":" FAULT [ "=" ARG ] [ "@" WHEN ]       WHEN omitted = every request of the group
    GROUP  := start | results | list | runlist | runs | actions | testsets
            | fp-create | fp-results | fp-record | fp-list | fp-cases | *
    WHEN   := P        each request with probability P: 0.3 or 30%  (0 < P <= 1)
            | #N       only the N-th request of the group (1-based)
            | #N-M     requests N..M of the group
            | #N-      request N and every later one
    FAULT  := 429[=S|=date:S|=none] | 401 | 403 | 500 | 502 | 503 | 504 | vanish | reset | cut | drop
            | slow[=S] | malformed | truncated | empty | missing[=FIELD] | unknown_status[=V] | strings
            | runs_list | backwards | contradict | never | fail

    examples:  results:429=2@0.3;results:503@#2;start:drop@#1;results:reset@#3-4;start:never@#1
               results:429=date:3@#2;results:backwards@#3;results:vanish@#4-;start:cut@#1

Endpoint groups: ``start`` every run_scenarios* POST; ``results`` GET results/{id}/; ``list`` GET results/;
``runlist`` GET runs/ (the runs list: regate's progress probe); ``runs`` runs bulk, GET and PATCH of one
run; ``actions`` end_calls, rerun, create_shareable_link_token, evaluate_metrics; ``testsets``
create_from_run. Freeplay (``/api/v2/...``): ``fp-create`` POST test-runs, POST test-suites/{id}/runs and
runs/execute; ``fp-results`` GET test-runs/id/{id} and suite run results;
``fp-record`` completions and traces (recordings and their updates); ``fp-list`` GET test-runs;
``fp-cases`` GET suite run test-cases. ``*`` any of them (counted over all API requests).
The ``/__sim/*`` endpoints are never faulted.

Faults, and whether the request is processed (matters for POSTs that start billed runs):

    429[=S]            not processed; 429 with ``Retry-After: S`` (default 1; ``429=none``: no header;
                       ``429=date:S``: Retry-After as an HTTP date S wall-clock seconds ahead)
    401|403            not processed; the platform's auth refusal (a revoked key, a missing permission)
    500|502|503|504    not processed; that status with an HTML body, like a proxy or crashed server
    vanish             not processed; 404 with the platform's not-found body, as if the resource (a result
                       or test run that existed a moment ago) had been deleted
    reset              not processed; the connection is closed abruptly without a response
    cut                processed; the status line, headers and half of the body are sent, then the
                       connection is reset (a reset in the middle of the response)
    drop               processed (a start or test run is stored), then the connection is reset: the client
                       cannot know whether its request took effect, so it must not blindly retry a start
    slow[=S]           processed; the connection is held S simulated seconds (default 5), then answered:
                       with S / speed above the client's read timeout this is a stalled server
    malformed          processed; a 2xx answer's body is replaced by an HTML page (``text/html``), like a
                       proxy's or a login page
    truncated          processed; a 2xx answer's JSON body is cut in half (a complete, short response)
    empty              processed; a 2xx answer has an empty body
    missing[=FIELD]    processed; FIELD (default ``status``) is removed from the 2xx answer's object, or
                       from each item of a list answer
    unknown_status[=V] processed; ``status`` becomes V (default ``exploding``) in the 2xx answer
    strings            processed; every ``*_count`` counter and ``success_rate`` become JSON strings
                       (``"2"``, ``"100.0"``) -- the OpenAPI types them as strings
    runs_list          processed; a result detail's ``runs`` map becomes a list of its values
    backwards          processed; ``status`` goes back one step of pending -> in_queue -> running ->
                       evaluating (a terminal status becomes ``evaluating``; Freeplay's ``complete`` or
                       ``failed`` become ``in-progress``); ``pending`` and ``in-progress`` stay
    contradict         processed; ``success_rate`` contradicts the counters: 0.0 when every run succeeded,
                       else 100.0 (answers without ``success_runs_count``/``total_runs_count`` stay)
    never              start and fp-create only; the result / test run is created but never finishes
                       (Freeplay: its auto-evaluations never complete, so it stays ``in-progress``)
    fail               fp-create only; the test run is created and ends ``failed`` once recorded

The field faults (``missing`` .. ``contradict``) rewrite the answer's top-level object when it has the
field, else each item of a list answer (``results``, ``test_runs``, ``data`` or a bare list).

Other names for these behaviours: an "html" body is ``malformed``; a "stall" (hold the connection, then
answer; a read timeout when longer than the client's timeout) is ``slow=S`` -- S is simulated seconds,
so the real hold is S / speed; "refused" needs no fault: point the client at a closed port.

Decisions are deterministic: each group counts its requests, and a probability rule draws from
``random.Random(f"{seed}:{rule index}:{group}:{request number}")``. The first matching rule wins.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from runner.errors import UsageError
from runner.simulator.wire import SimResponse, json_response

CEKURA_GROUPS = ("start", "results", "list", "runlist", "runs", "actions", "testsets")
FREEPLAY_GROUPS = ("fp-create", "fp-results", "fp-record", "fp-list", "fp-cases")
GROUPS = (*CEKURA_GROUPS, *FREEPLAY_GROUPS, "*")


class FaultKind(StrEnum):
    TOO_MANY = "429"
    E401 = "401"
    E403 = "403"
    E500 = "500"
    E502 = "502"
    E503 = "503"
    E504 = "504"
    VANISH = "vanish"
    RESET = "reset"
    CUT = "cut"
    DROP = "drop"
    SLOW = "slow"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    EMPTY = "empty"
    MISSING = "missing"
    UNKNOWN_STATUS = "unknown_status"
    STRINGS = "strings"
    RUNS_LIST = "runs_list"
    BACKWARDS = "backwards"
    CONTRADICT = "contradict"
    NEVER = "never"
    FAIL = "fail"


# Faults answered instead of processing the request.
REFUSING = frozenset({FaultKind.TOO_MANY, FaultKind.E500, FaultKind.E502, FaultKind.E503, FaultKind.E504})
REFUSING |= {FaultKind.E401, FaultKind.E403, FaultKind.VANISH, FaultKind.RESET}
# Faults that rewrite a processed 2xx answer: the whole body, or fields of its JSON.
MANGLING = frozenset({FaultKind.MALFORMED, FaultKind.TRUNCATED, FaultKind.EMPTY})
FIELD_FAULTS = frozenset(
    {FaultKind.MISSING, FaultKind.UNKNOWN_STATUS, FaultKind.STRINGS, FaultKind.RUNS_LIST}
    | {FaultKind.BACKWARDS, FaultKind.CONTRADICT}
)
MANGLING |= FIELD_FAULTS
# Faults that change what a processed create does, and the groups they apply to.
FATES = {FaultKind.NEVER: ("fp-create", "start"), FaultKind.FAIL: ("fp-create",)}
_DEFAULT_ARG = {
    FaultKind.TOO_MANY: "1",
    FaultKind.SLOW: "5",
    FaultKind.MISSING: "status",
    FaultKind.UNKNOWN_STATUS: "exploding",
}
_RULE = re.compile(r"^(?P<group>[^:]+):(?P<fault>[^=@]+)(?:=(?P<arg>[^@]*))?(?:@(?P<when>.*))?$")
_LIST_KEYS = ("results", "test_runs", "data")
_DATE_ARG = re.compile(r"date:(?P<seconds>\d+(?:\.\d*)?)")
# ``backwards``: the status one step earlier; statuses not listed (pending, in-progress, unknown) stay.
_EARLIER = {
    "in_queue": "pending",
    "scaling_up": "pending",
    "running": "in_queue",
    "in_progress": "in_queue",
    "evaluating": "running",
    "completed": "evaluating",
    "failed": "evaluating",
    "timeout": "evaluating",
    "cancelled": "evaluating",
}
_FREEPLAY_EARLIER = {"complete": "in-progress", "completed": "in-progress", "failed": "in-progress"}
_REFUSAL_BODIES = {  # (Cekura DRF body, Freeplay body)
    FaultKind.E401: ("Invalid API key.", "Requests must be authenticated with a valid API key."),
    FaultKind.E403: ("You do not have permission to perform this action.", "Forbidden"),
    FaultKind.VANISH: ("Not found.", "Not found"),
}
_HINT = "fault spec syntax: GROUP:FAULT[=ARG][@WHEN];... e.g. results:429=2@0.3;start:drop@#1"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    arg: str | None = None

    @property
    def value(self) -> str:
        """The argument, or its default (the field for ``missing``, the status for ``unknown_status``)."""
        return self.arg or _DEFAULT_ARG.get(self.kind, "")

    @property
    def seconds(self) -> float:
        """Retry-After (429, either form) or delay (slow), in seconds."""
        date = _DATE_ARG.fullmatch(self.value)
        return float(date["seconds"] if date else self.value)

    @property
    def http_date(self) -> bool:
        """A 429 whose Retry-After is an HTTP date (``429=date:S``)."""
        return self.kind is FaultKind.TOO_MANY and _DATE_ARG.fullmatch(self.value) is not None


@dataclass(frozen=True, slots=True)
class FaultRule:
    group: str
    fault: Fault
    probability: float | None = None  # None = by schedule
    first: int = 1  # schedule: requests first..last (1-based, inclusive)
    last: float = float("inf")

    def matches(self, seed: int, index: int, n: int) -> bool:
        if self.probability is None:
            return self.first <= n <= self.last
        draw = random.Random(f"{seed}:{index}:{self.group}:{n}").random()  # noqa: S311 - simulation, not crypto
        return draw < self.probability


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rules: tuple[FaultRule, ...] = ()
    spec: str = ""


def parse_faults(spec: str | None) -> FaultPlan:
    """Parse a fault spec (grammar in the module docstring); raise UsageError naming the bad part."""
    if spec is None or not spec.strip():
        return FaultPlan()
    rules = [_parse_rule(part.strip()) for part in re.split(r"[;,]", spec) if part.strip()]
    return FaultPlan(tuple(rules), spec.strip())


def _bad(part: str, why: str, hint: str = _HINT) -> UsageError:
    return UsageError(f"bad fault rule {part!r}: {why}", hint=hint)


def _parse_rule(part: str) -> FaultRule:
    m = _RULE.match(part)
    if m is None:
        raise _bad(part, "expected GROUP:FAULT[=ARG][@WHEN]")
    group = m["group"].strip()
    if group not in GROUPS:
        raise _bad(part, f"unknown endpoint group {group!r}", f"groups are: {', '.join(GROUPS)}")
    name = m["fault"].strip()
    try:
        kind = FaultKind(name)
    except ValueError:
        raise _bad(
            part, f"unknown fault {name!r}", f"faults are: {', '.join(k.value for k in FaultKind)}"
        ) from None
    arg = None if m["arg"] is None else m["arg"].strip()
    fault = _check_arg(part, kind, arg)
    if kind in FATES and group not in FATES[kind]:
        allowed = " or ".join(FATES[kind])
        hint = "write " + " or ".join(f"{g}:{kind.value}@..." for g in FATES[kind])
        raise _bad(part, f"fault {kind.value!r} applies to the {allowed} group only", hint)
    when = (m["when"] or "").strip()
    if m["when"] is not None and not when:
        raise _bad(part, "nothing after '@'", "write @0.3, @30%, @#2, @#2-4 or @#2-")
    if not when:
        return FaultRule(group, fault, probability=None)
    if when.startswith("#"):
        sched = re.fullmatch(r"#(\d+)(?:(-)(\d*))?", when)
        if sched is None:
            raise _bad(part, f"bad schedule {when!r}", "write #N, #N-M or #N- (request numbers start at 1)")
        first = int(sched[1])
        last: float = first if sched[2] is None else (int(sched[3]) if sched[3] else float("inf"))
        if first < 1 or last < first:
            raise _bad(part, f"bad schedule {when!r}", "request numbers start at 1 and N <= M")
        return FaultRule(group, fault, None, first, last)
    try:
        p = float(when[:-1]) / 100 if when.endswith("%") else float(when)
    except ValueError:
        raise _bad(
            part, f"bad probability {when!r}", "write a number in (0, 1] such as 0.3, or a percent: 30%"
        ) from None
    if not 0 < p <= 1:
        raise _bad(part, f"probability {when!r} is outside (0, 1]", "write e.g. 0.3 or 30%")
    return FaultRule(group, fault, probability=p)


def _check_arg(part: str, kind: FaultKind, arg: str | None) -> Fault:
    if arg is None:
        return Fault(kind)
    if kind not in _DEFAULT_ARG:
        raise _bad(part, f"fault {kind.value!r} takes no argument", f"write {kind.value} without '='")
    if kind is FaultKind.TOO_MANY and (arg == "none" or _DATE_ARG.fullmatch(arg)):
        return Fault(kind, arg)
    if kind in (FaultKind.TOO_MANY, FaultKind.SLOW):
        try:
            ok = float(arg) >= 0
        except ValueError:
            ok = False
        if not ok:
            forms = "429=2, 429=date:2 or 429=none" if kind is FaultKind.TOO_MANY else f"{kind.value}=2"
            raise _bad(part, f"{kind.value} needs a number of seconds >= 0, got {arg!r}", f"e.g. {forms}")
    elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", arg):
        raise _bad(
            part, f"{kind.value} needs a field name or status word, got {arg!r}", f"e.g. {kind.value}=x"
        )
    return Fault(kind, arg)


class FaultInjector:
    """Counts requests per group and decides each request's fault. Not thread-safe: callers serialise."""

    def __init__(self, plan: FaultPlan | None, seed: int = 0) -> None:
        self.plan = plan or FaultPlan()
        self.seed = seed
        self.counts: dict[str, int] = {}
        self.injected: dict[str, int] = {}

    def decide(self, group: str) -> Fault | None:
        n = self.counts[group] = self.counts.get(group, 0) + 1
        total = self.counts["*"] = self.counts.get("*", 0) + 1
        for index, rule in enumerate(self.plan.rules):
            if rule.group not in (group, "*"):
                continue
            if rule.matches(self.seed, index, total if rule.group == "*" else n):
                return rule.fault
        return None

    def record(self, fault: Fault) -> None:
        """Count a fault that was actually applied (mangling faults apply only to 2xx JSON answers)."""
        self.injected[fault.kind.value] = self.injected.get(fault.kind.value, 0) + 1


# -- carrying faults out (shared by every transport) ---------------------------------------------------


def refusal(fault: Fault, *, freeplay: bool = False, now: float | None = None) -> SimResponse:
    """The answer to a request a REFUSING fault stops: 429 (JSON, Retry-After), 401/403/404 (the platform's
    JSON error), a 5xx page, or a reset. Freeplay's bodies are ``{"message": ...}``; Cekura's are DRF's
    ``{"detail": ...}``. ``now`` (unix seconds, default the wall clock) dates an HTTP-date Retry-After."""
    key = "message" if freeplay else "detail"
    if fault.kind is FaultKind.RESET:
        return SimResponse(0, reset=True)
    if fault.kind in _REFUSAL_BODIES:
        cekura_text, freeplay_text = _REFUSAL_BODIES[fault.kind]
        status = 404 if fault.kind is FaultKind.VANISH else int(fault.kind.value)
        return json_response(status, {key: freeplay_text if freeplay else cekura_text})
    if fault.kind is FaultKind.TOO_MANY:
        if fault.arg == "none":
            return json_response(429, {key: "Too many requests."})
        wait = math.ceil(fault.seconds)  # Retry-After takes whole seconds
        detail = f"Request was throttled. Expected available in {wait} seconds."
        if fault.http_date:
            # An HTTP date has whole seconds too: round up, so the client never waits less than asked.
            at = math.ceil((time.time() if now is None else now) + fault.seconds)
            header = email.utils.formatdate(at, usegmt=True)
        else:
            header = str(wait)
        return json_response(429, {key: detail}, (("Retry-After", header),))
    titles = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}
    title = f"{fault.kind.value} {titles.get(fault.kind.value, 'Gateway Timeout')}"
    page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>\n"
    return SimResponse(int(fault.kind.value), (("Content-Type", "text/html"),), page.encode())


HTML_PAGE = b"<html><body><h1>Upstream returned an invalid response</h1></body></html>\n"


def mangle(fault: Fault, body: bytes, *, freeplay: bool = False) -> bytes:
    """A processed 2xx JSON body as a MANGLING fault spoils it."""
    if fault.kind is FaultKind.MALFORMED:
        return HTML_PAGE
    if fault.kind is FaultKind.TRUNCATED:
        return body[: max(1, len(body) // 2)]
    if fault.kind is FaultKind.EMPTY:
        return b""
    data = json.loads(body)
    for target in _targets(data, _field_of(fault)):
        _rewrite(fault, target, freeplay)
    return json.dumps(data, ensure_ascii=False).encode()


def _field_of(fault: Fault) -> str:
    """The field whose presence marks the object a field fault rewrites."""
    if fault.kind is FaultKind.MISSING:
        return fault.value
    if fault.kind is FaultKind.RUNS_LIST:
        return "runs"
    if fault.kind in (FaultKind.STRINGS, FaultKind.CONTRADICT):
        return "success_rate"  # the mark of a Cekura result object
    return "status"


def _targets(data: Any, name: str) -> list[dict[str, Any]]:
    """The top-level object when it has the field, else the items of a list answer that have it (runs
    bulk, results list, Freeplay's test_runs and data pages)."""
    if isinstance(data, dict) and name in data:
        return [data]
    items: list[Any] = data if isinstance(data, list) else []
    if isinstance(data, dict):
        items = next((data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)), [])
    return [i for i in items if isinstance(i, dict) and name in i]


def _rewrite(fault: Fault, target: dict[str, Any], freeplay: bool) -> None:
    kind = fault.kind
    if kind is FaultKind.MISSING:
        del target[fault.value]
    elif kind is FaultKind.UNKNOWN_STATUS:
        target["status"] = fault.value
    elif kind is FaultKind.BACKWARDS:
        steps = _FREEPLAY_EARLIER if freeplay else _EARLIER
        status = target["status"]
        target["status"] = steps.get(status, status) if isinstance(status, str) else status
    elif kind is FaultKind.RUNS_LIST:
        if isinstance(target["runs"], dict):
            target["runs"] = list(target["runs"].values())
    elif kind is FaultKind.STRINGS:
        for key, value in target.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and (key.endswith("_count") or key == "success_rate"):
                target[key] = str(value)
    elif kind is FaultKind.CONTRADICT:
        success, total = target.get("success_runs_count"), target.get("total_runs_count")
        if isinstance(success, int) and isinstance(total, int) and total > 0:
            target["success_rate"] = 0.0 if success == total else 100.0


def apply_fault(
    injector: FaultInjector, fault: Fault, response: SimResponse, *, freeplay: bool = False
) -> SimResponse:
    """A processed request's answer as a non-refusing fault changes it; applied faults are counted."""
    ok = 200 <= response.status < 300
    if fault.kind is FaultKind.DROP:
        response = replace(response, reset_after_processing=True)
    elif fault.kind is FaultKind.CUT:
        response = replace(response, cut=True)
    elif fault.kind is FaultKind.SLOW:
        response = replace(response, delay=fault.seconds)
    elif fault.kind in FATES:
        if not ok:
            return response
    elif fault.kind in MANGLING:
        if not ok or not response.body:
            return response
        body = mangle(fault, response.body, freeplay=freeplay)
        headers = response.headers
        if fault.kind is FaultKind.MALFORMED:
            kept = (h for h in headers if h[0].lower() != "content-type")
            headers = (*kept, ("Content-Type", "text/html"))
        response = replace(response, body=body, headers=headers)
    injector.record(fault)
    return response
