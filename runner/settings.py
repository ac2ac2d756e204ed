"""Typed, frozen settings produced by ``config.load_config``: what to run and how.

Nothing here parses or validates; ``config.py`` builds these objects and guarantees their invariants
(documented on each field), so the orchestrator and providers can trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from runner.thresholds import Thresholds

DEFAULT_CEKURA_URL = "https://api.cekura.ai"
DEFAULT_FREEPLAY_URL = "https://app.freeplay.ai"  # the API root is <base_url>/api/v2
SIMULATOR = "simulator"  # the special base_url value: start the embedded simulator for this run


class Secret:
    """A string that never shows itself in repr/str/format, so it cannot leak into logs or reports."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class CekuraMode(StrEnum):
    """Run modes of api-contracts §A3.1 (the SDK CLI's --mode names, plus pipecat_v1, chirp and json)."""

    VOICE = "voice"
    TEXT = "text"
    WEBSOCKET = "websocket"
    PIPECAT_V1 = "pipecat_v1"
    PIPECAT = "pipecat"  # run_scenarios_pipecat_v2
    LIVEKIT = "livekit"  # run_scenarios_livekit_v2
    RETELL = "retell"
    VAPI = "vapi"
    ELEVENLABS = "elevenlabs"
    SIP = "sip"
    EMAIL = "email"
    CHIRP = "chirp"
    JSON = "json"  # run_scenarios_json (tests-as-code)


# Modes whose body takes tags / folder_path selectors and personality/test-profile multipliers.
VOICE_FAMILY = frozenset(
    {CekuraMode.VOICE, CekuraMode.TEXT, CekuraMode.ELEVENLABS, CekuraMode.SIP, CekuraMode.CHIRP}
)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Polling toward a terminal status: adaptive to the result's progress (``runner.polling``)."""

    initial: float = 5.0  # first delay, seconds; then capped exponential until progress is seen
    maximum: float = 30.0  # cap, seconds
    minimum: float = 1.0  # the shortest delay near a result's predicted end (less up to 20% jitter)
    multiplier: float = 1.5
    heartbeat: float = 30.0  # at most one "still waiting" progress line per this many seconds


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retrying one request for transient reasons (design.md §7)."""

    attempts: int = 3  # per request, first try included
    base: float = 1.0
    maximum: float = 30.0
    budget: int = 20  # total retries allowed per gate
    max_retry_after: float = 120.0  # Retry-After is clamped to this
    breaker_threshold: int = 10  # consecutive transient failures of one provider that open its breaker
    breaker_cooldown: float = 30.0  # seconds every call of that provider then waits
    rate_limit: float | None = 50.0  # requests per second to one provider (halved on a 429); None: no ceiling


class Decide(StrEnum):
    """How statistical uncertainty decides a check (``runner.stats``)."""

    STRICT = "strict"  # pass only when the data show the threshold is met; fail closed otherwise
    LENIENT = "lenient"  # fail only when the data show it is missed; benefit of the doubt otherwise


@dataclass(frozen=True, slots=True)
class Statistics:
    """``statistics:`` (defaults, gate). ``confidence`` None: absolute rate checks compare the observed rate
    as before; set, they compare its Wilson bound per ``mode``. Change checks always use statistics, at
    ``confidence`` or 0.95."""

    confidence: float | None = None
    mode: Decide = Decide.STRICT
    min_runs: int = 10  # per side: fewer runs than this cannot decide (inconclusive, never a pass)

    @property
    def change_confidence(self) -> float:
        return self.confidence if self.confidence is not None else 0.95


class OnMissing(StrEnum):
    PASS = "pass"  # noqa: S105 - not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    """``baseline:``: what the change checks compare against: a regate JSON report (``report``, absolute
    path) or a platform result (``result``: a Cekura result / Freeplay test run id, fetched at run time)."""

    report: str | None = None
    result: str | None = None
    on_missing: OnMissing = OnMissing.INCONCLUSIVE

    def describe(self) -> str:
        return f"report {self.report}" if self.report else f"result {self.result}"


@dataclass(frozen=True, slots=True)
class WriteBackSpec:
    """``write_back:`` (Cekura gates): annotate the gate's runs and promote runs into test sets after the
    verdict (``runner.writeback``). Opt-in; its failures are reported and never change the verdict."""

    annotate: bool = True
    evaluation_status: bool = False  # also write success/failure from each run's outcome
    mark_reviewed: bool | None = None  # None: is_reviewed untouched
    promote: str | None = None  # "failed" | "all": promote those runs into test sets
    metrics: tuple[tuple[int, float | str | bool | None], ...] = ()  # (metric id, expected value)
    project: int | None = None


@dataclass(frozen=True, slots=True)
class Defaults:
    timeout: float = 1800.0  # per-gate deadline, seconds
    overall_timeout: float | None = None  # whole run; None = sum is bounded only by gate timeouts
    request_timeout: float = 30.0  # each HTTP request
    concurrency: int = 4  # gates started/polled in parallel (CapacityLimiter tokens)
    poll: PollPolicy = field(default_factory=PollPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    thresholds: Thresholds = field(default_factory=Thresholds)
    baseline: BaselineSpec | None = None
    statistics: Statistics = field(default_factory=Statistics)
    write_back: WriteBackSpec | None = None


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    world: str | None = None  # path to a world YAML; None = the packaged default world
    speed: float = 1.0  # time compression: 10 = ten times faster than real
    seed: int = 0
    faults: str | None = None  # fault spec, see runner.simulator.faults


@dataclass(frozen=True, slots=True)
class CekuraSettings:
    base_url: str  # no trailing slash; SIMULATOR for the embedded one
    api_key: Secret
    allow_insecure_http: bool = False  # config opt-in to send the key over http:// to a non-loopback host
    api_key_source: str = "${CEKURA_API_KEY}"  # where the key came from, for messages (never the value)

    @property
    def is_simulator(self) -> bool:
        return self.base_url == SIMULATOR


@dataclass(frozen=True, slots=True)
class ScenarioRef:
    id: int
    websocket_url: str | None = None  # websocket mode: per-scenario URL (else the gate's websocket_url)
    pipecat_room_url: str | None = None  # pipecat_v1 only


@dataclass(frozen=True, slots=True)
class CekuraGate:
    """One Cekura gate.

    Invariants (enforced by config): exactly one of scenarios/tags/folder is set; tags/folder only in
    VOICE_FAMILY modes; folder requires project; JSON mode has spec_json and no selector.
    """

    name: str
    agent: int
    mode: CekuraMode
    thresholds: Thresholds  # already merged over defaults.thresholds; never empty
    timeout: float  # seconds (gate value or defaults.timeout)
    line: int  # line of the gate in the config, for messages
    scenarios: tuple[ScenarioRef, ...] = ()
    tags: tuple[str, ...] = ()
    folder: str | None = None
    project: int | None = None
    frequency: int | None = None
    personalities: tuple[int, ...] = ()
    test_profiles: tuple[int, ...] = ()
    concurrency_limit: int | None = None
    mock_tool_names: tuple[str, ...] | None = None
    websocket_url: str | None = None  # text, chirp; websocket default for scenarios without their own
    websocket_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # text; may hold tokens
    elevenlabs_agent_id: str | None = None
    sip_endpoint: str | None = None
    retell_agent_id: str | None = None
    vapi_assistant_id: str | None = None  # required for vapi
    agent_email: str | None = None
    spec_json: str | None = None  # json mode: the test-suite spec, serialised JSON (loaded from file/inline)
    channel: str | None = None  # json mode channel
    provider: str = "cekura"
    write_back: WriteBackSpec | None = None  # over defaults.write_back
    retries: int = 0  # re-run the scenarios whose runs failed, up to this many times (a new start each)
    flaky: str = "pass"  # a failed run whose scenario passed on retry counts as: "pass" | "fail"
    labels: tuple[str, ...] = ()  # for --label selection (``tags`` already selects Cekura scenarios)
    blocking: bool = True  # False: reported (as a warning) but never fails the step
    baseline: BaselineSpec | None = None  # merged over defaults.baseline
    statistics: Statistics = field(default_factory=Statistics)  # merged over defaults.statistics


@dataclass(frozen=True, slots=True)
class FreeplaySettings:
    base_url: str  # the app root without /api/v2 and without a trailing slash; SIMULATOR for the embedded one
    api_key: Secret
    allow_insecure_http: bool = False  # config opt-in to send the key over http:// to a non-loopback host
    api_key_source: str = "${FREEPLAY_API_KEY}"  # where the key came from, for messages (never the value)

    @property
    def is_simulator(self) -> bool:
        return self.base_url == SIMULATOR


@dataclass(frozen=True, slots=True)
class CommandTarget:
    """Run ``command`` once per test case: the case as one JSON object on stdin, the output on stdout."""

    command: tuple[str, ...]  # argv, no shell
    timeout: float  # per test case, seconds
    cwd: str | None = None  # absolute (config resolves it relative to the config file)
    # added to regate's own environment; values may be secrets, so they never show in a repr
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """POST each test case as JSON to ``url``; the reply body is the output."""

    url: str
    timeout: float  # per test case, seconds
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold tokens


TargetSpec = CommandTarget | HttpTarget


class FreeplayMode(StrEnum):
    DATASET = "dataset"  # create a test run from a dataset, execute the target, record, poll
    SUITE = "suite"  # server-side suite run (runs/execute), poll results, use `passed`
    SUITE_CLIENT = "suite-client"  # client-orchestrated suite run: page test cases, execute, record, poll


@dataclass(frozen=True, slots=True)
class FreeplayGate:
    """One Freeplay gate. Invariants (enforced by config): exactly one of dataset/suite; a target is set
    for DATASET and SUITE_CLIENT modes; ``test_run_name``/``description`` are already rendered."""

    name: str
    project: str  # uuid
    mode: FreeplayMode
    thresholds: Thresholds  # merged over defaults; never empty (a suite's `passed` is implicit)
    timeout: float
    line: int
    dataset: str | None = None  # dataset name (DATASET mode)
    suite: str | None = None  # suite id (SUITE and SUITE_CLIENT modes)
    target: TargetSpec | None = None
    target_concurrency: int = 4  # test cases executed at once
    include_outputs: bool = False
    flavor_name: str | None = None
    target_evaluation_ids: tuple[str, ...] = ()
    environment: str | None = None
    test_run_name: str | None = None
    description: str | None = None
    provider: str = "freeplay"
    labels: tuple[str, ...] = ()  # for --label selection
    blocking: bool = True  # False: reported (as a warning) but never fails the step
    baseline: BaselineSpec | None = None  # merged over defaults.baseline
    statistics: Statistics = field(default_factory=Statistics)  # merged over defaults.statistics


GateSpec = CekuraGate | FreeplayGate


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    version: int
    simulator: SimulatorSettings
    cekura: CekuraSettings | None
    defaults: Defaults
    gates: tuple[GateSpec, ...]
    freeplay: FreeplaySettings | None = None
    # Environment values that flowed into secret places (keys, headers, target env) or come from variables
    # named like secrets: masked in messages and, under GitHub Actions, with ::add-mask::.
    secrets: tuple[str, ...] = field(default=(), repr=False)
