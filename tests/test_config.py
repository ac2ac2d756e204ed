"""Config loading: every user mistake becomes one located ``ConfigError`` with a hint, never a traceback;
valid configs load into the exact frozen settings the orchestrator and providers rely on.

Messages are part of the UX, so the corpus ``tests/data/configs/invalid/*.yaml`` pins each one in full:
``<file>:<line>: <key path>: <message>`` plus the hint.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from runner.config import insecure_http_providers, load_config, parse_duration
from runner.errors import ConfigError
from runner.settings import (
    DEFAULT_CEKURA_URL,
    CekuraGate,
    CekuraMode,
    Config,
    Defaults,
    FreeplayGate,
    FreeplayMode,
    PollPolicy,
    RetryPolicy,
    ScenarioRef,
    Secret,
)
from runner.thresholds import Comparison, Op, Thresholds, compile_thresholds

DATA = Path(__file__).parent / "data" / "configs"
INVALID = DATA / "invalid"
VALID = DATA / "valid"
SECRET = "sk-test-SECRET-do-not-print"
ENV = {"CEKURA_API_KEY": SECRET, "FREEPLAY_API_KEY": SECRET, "EMPTY_KEY": "", "AGENT_ID": "55"}
PROVIDERS = "version: 1\nproviders:\n  cekura: {api_key: '${CEKURA_API_KEY}'}\n"

# file -> (":<line>: <key>: <message>" after the file path, hint); <INVALID> is the corpus directory.
CORPUS = [
    ("agent_not_integer.yaml", ":7: gates[0].agent: expected an integer >= 1, got the string 'abc'", None),
    (
        "allow_insecure_http_not_boolean.yaml",
        ":5: providers.cekura.allow_insecure_http: expected true or false, got the string 'sure'",
        None,
    ),
    (
        "api_key_empty.yaml",
        ":4: providers.cekura.api_key: api_key is empty: EMPTY_KEY is set but empty",
        "export EMPTY_KEY with your Cekura API key",
    ),
    (
        "api_key_missing.yaml",
        ":4: providers.cekura: missing required key 'api_key'",
        "add api_key: ${CEKURA_API_KEY} and export CEKURA_API_KEY",
    ),
    (
        "bad_base_url.yaml",
        ":4: providers.cekura.base_url: expected an https or http URL, got 'ftp://api.cekura.ai'",
        "e.g. https://api.cekura.ai, or 'simulator'",
    ),
    (
        "bad_duration.yaml",
        ":9: gates[0].timeout: expected a duration, got the string '10 minutes'",
        "write e.g. 250ms, 30s, 5m, 1h or 1h30m",
    ),
    (
        "bad_env_reference.yaml",
        ":7: gates[0].agent: bad variable reference '${AGENT-ID}'",
        "write ${VAR} or ${VAR:-default} (VAR: letters, digits, '_'); $$ is a '$'",
    ),
    (
        "base_url_with_credentials.yaml",
        ":4: providers.cekura.base_url: the URL must not contain credentials",
        "put API keys in api_key",
    ),
    ("channel_typo.yaml", ":10: gates[0].channel: unknown channel 'livekit'", "did you mean 'livekit_v2'?"),
    ("comments_only.yaml", ": the file is empty", "a config starts with 'version: 1' and lists 'gates'"),
    ("concurrency_zero.yaml", ":6: defaults.concurrency: expected an integer from 1 to 1000, got 0", None),
    (
        "count_with_percent.yaml",
        ":11: gates[0].thresholds.metrics.Latency: count is a number of runs and takes no %",
        'write a whole number, e.g. "count >= 10"; for a share of runs use pass_rate or rate(...)',
    ),
    (
        "duplicate_gate_name.yaml",
        ":9: gates[1].name: duplicate gate name 'smoke' (first on line 6)",
        "gate names must be unique: they name JUnit suites and report files",
    ),
    (
        "duplicate_key.yaml",
        ":9: gates[0].agent: duplicate key 'agent' (first on line 7)",
        "YAML would silently keep only the last one: remove or rename one of them",
    ),
    ("empty.yaml", ": the file is empty", "a config starts with 'version: 1' and lists 'gates'"),
    (
        "empty_metric_checks.yaml",
        ":11: gates[0].thresholds.metrics.Latency: no checks for metric 'Latency'",
        'write at least one check such as "p95 <= 2000", or remove the metric',
    ),
    (
        "folder_without_project.yaml",
        ":8: gates[0].folder: a folder needs 'project' (the id of the project the folder belongs to)",
        "add project: <project id>",
    ),
    ("frequency_over_cap.yaml", ":11: gates[0].frequency: expected an integer from 1 to 100, got 101", None),
    (
        "gate_name_with_space.yaml",
        ":6: gates[0].name: gate name 'smoke test' may only contain letters, digits, '_', '.' and '-'",
        "it names JUnit classnames and files",
    ),
    (
        "http_non_loopback.yaml",
        ":4: providers.cekura.base_url: http:// is only allowed to a loopback host, not 'api.cekura.ai'",
        "use https://: over http the API key would travel in clear text"
        " (if that is acceptable on your network, set providers.cekura.allow_insecure_http: true)",
    ),
    (
        "json_without_spec.yaml",
        ":6: gates[0]: missing required key 'spec'",
        "spec: path/to/suite.json (relative to this config) or an inline mapping",
    ),
    (
        "merge_duplicate_key.yaml",
        ":11: gates[0].name: duplicate key 'name' (first on line 10)",
        "YAML would silently keep only the last one: remove or rename one of them",
    ),
    ("missing_version.yaml", ":1: missing required key 'version'", "add 'version: 1' at the top"),
    (
        "mock_tools_in_email.yaml",
        ":10: gates[0]: 'mock_tool_names' is not accepted in email mode",
        "'mock_tool_names' works in every mode but email and json",
    ),
    ("mode_typo.yaml", ":8: gates[0].mode: unknown mode 'vioce'", "did you mean 'voice'?"),
    (
        "no_gates.yaml",
        ":5: gates: no gates: nothing to check",
        "add a 'gates:' list, e.g. gates: [{name: smoke, agent: 101, scenarios: [1, 2]}]",
    ),
    ("no_selector.yaml", ":6: gates[0]: no scenarios selected", "add one of 'scenarios', 'tags' or 'folder'"),
    ("not_utf8.yaml", ":2: the file is not UTF-8 text (byte 0xe9 at offset 16)", "save the file as UTF-8"),
    (
        "personalities_in_retell.yaml",
        ":10: gates[0]: 'personalities' is not accepted in retell mode",
        "'personalities' works in voice, text, pipecat, livekit, elevenlabs, sip and chirp modes",
    ),
    (
        "pipecat_v1_without_room.yaml",
        ":9: gates[0].scenarios[0]: scenario 1 needs a pipecat_room_url in pipecat_v1 mode",
        "write {id: 1, pipecat_room_url: https://...}",
    ),
    (
        "poll_initial_over_max.yaml",
        ":6: defaults.poll.initial: initial (1m) is longer than max (30s)",
        "make initial <= max",
    ),
    (
        "provider_not_configured.yaml",
        ":4: gates[0].provider: provider 'cekura' is not configured",
        "add providers: {cekura: {api_key: ${CEKURA_API_KEY}}}",
    ),
    (
        "python_tag.yaml",
        ":6: gates[0].name: the YAML tag '!!python/object/apply:os.system' is not allowed",
        "only plain mappings, lists and scalars are allowed; quote the value if '!' is part of it",
    ),
    (
        "rate_above_one.yaml",
        ":11: gates[0].thresholds.metrics.Sentiment: rate 80 is above 1: a rate without % is a fraction",
        "write 80% or 0.8",
    ),
    (
        "rate_expression_without_percent.yaml",
        ":10: gates[0].thresholds.success_rate: rate 90 is above 1: a rate without % is a fraction",
        "write 90% or 0.9",
    ),
    (
        "rate_without_percent.yaml",
        ":7: defaults.thresholds.success_rate: rate 90 is above 1: a rate without % is a fraction",
        "write 90% or 0.9",
    ),
    (
        "scenario_mapping_in_voice.yaml",
        ":8: gates[0].scenarios[0]: expected a scenario id (an integer), got a mapping",
        "only websocket and pipecat_v1 gates take {id: ..., <url>: ...} entries",
    ),
    (
        "scenarios_not_list.yaml",
        ":8: gates[0].scenarios: expected a list of scenario ids, got 5",
        "write a YAML list, e.g. [1, 2]",
    ),
    (
        "simulator_typo.yaml",
        ":4: providers.cekura.base_url: expected an https URL or 'simulator', got the string 'simulater'",
        "did you mean 'simulator'?",
    ),
    (
        "spec_file_missing.yaml",
        ":9: gates[0].spec: spec file 'suites/missing.json' not found",
        "paths are relative to the config file; looked for <INVALID>/suites/missing.json",
    ),
    (
        "tab_indent.yaml",
        ":4: invalid YAML: found character '\\t' that cannot start any token (column 1)",
        "indent with spaces: YAML does not allow tabs",
    ),
    (
        "thresholds_not_mapping.yaml",
        ":9: gates[0].thresholds: expected a mapping of thresholds, got the string '90%'",
        'e.g. thresholds: {success_rate: ">= 90%", max_failed_runs: 1}',
    ),
    (
        "tags_in_websocket.yaml",
        ":10: gates[0]: 'tags' is not accepted in websocket mode",
        "'tags' works in voice, text, elevenlabs, sip and chirp modes",
    ),
    (
        "top_level_list.yaml",
        ":1: the top level must be a mapping of keys (version, simulator, providers, defaults, gates),"
        " got a list",
        "start the file with 'version: 1'",
    ),
    (
        "two_documents.yaml",
        ":7: invalid YAML: expected a single document in the stream, but found another document (column 1)",
        "a config is one YAML document: remove the '---' separator",
    ),
    (
        "two_selectors.yaml",
        ":9: gates[0]: 'scenarios' and 'tags' both select scenarios",
        "keep exactly one of scenarios, tags or folder",
    ),
    ("typo_defaults_key.yaml", ":6: defaults: unknown key 'timeot'", "did you mean 'timeout'?"),
    ("typo_gate_key.yaml", ":8: gates[0]: unknown key 'scenarois'", "did you mean 'scenarios'?"),
    ("typo_poll_key.yaml", ":7: defaults.poll: unknown key 'inital'", "did you mean 'initial'?"),
    ("typo_provider_key.yaml", ":4: providers.cekura: unknown key 'api_kye'", "did you mean 'api_key'?"),
    (
        "typo_threshold_key.yaml",
        ":10: gates[0].thresholds: unknown key 'succes_rate'",
        "did you mean 'success_rate'?",
    ),
    ("typo_top_key.yaml", ":5: unknown key 'gatez'", "did you mean 'gates'?"),
    (
        "unknown_aggregate.yaml",
        ":13: gates[0].thresholds.metrics.Latency[1]: unknown aggregate 'p59'",
        "did you mean 'p99'?",
    ),
    (
        "unquoted_threshold.yaml",
        ":10: invalid YAML: expected chomping or indentation indicators, but found '=' (column 22)",
        "quote values that start with '>' or '|', e.g. \">= 90%\"",
    ),
    (
        "unset_env_var.yaml",
        ":7: gates[0].agent: environment variable SMOKE_AGENT_ID is not set",
        "export SMOKE_AGENT_ID or write ${SMOKE_AGENT_ID:-default}",
    ),
    (
        "vapi_without_assistant.yaml",
        ":6: gates[0]: missing required key 'vapi_assistant_id'",
        "the Vapi assistant to call, e.g. vapi_assistant_id: asst_123",
    ),
    ("version_2.yaml", ":1: version: unsupported config version 2", "this regate reads version 1 configs"),
    ("version_string.yaml", ":1: version: expected the integer 1, got the string '1'", "write version: 1"),
    (
        "websocket_scenario_without_url.yaml",
        ":11: gates[0].scenarios[1]: scenario 2 has no websocket_url",
        "set the gate's websocket_url, or write {id: 2, websocket_url: wss://...}",
    ),
    (
        "websocket_url_not_ws.yaml",
        ":10: gates[0].websocket_url: expected a wss or ws URL, got 'https://agent.example.com/ws'",
        "e.g. wss://agent.example.com/ws",
    ),
    (
        "yaml_syntax.yaml",
        ":8: invalid YAML: the flow sequence starting at column 16 never ends"
        " (expected ',' or ']', but got '<stream end>')",
        "check the indentation; quote values that contain ': ' or start with [ ] { } > | * & ! % @ `",
    ),
]


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(str(path), ENV if env is None else env)


def error_of(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path, env)
    return info.value


# --- the invalid corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "located", "hint"), CORPUS, ids=[c[0].removesuffix(".yaml") for c in CORPUS]
)
def test_each_invalid_config_fails_with_its_pinned_message_and_hint(
    name: str, located: str, hint: str | None
) -> None:
    """The full text names the file, line and key path; the hint says how to fix it."""
    error = error_of(INVALID / name)
    assert str(error) == f"{INVALID / name}{located}"
    assert error.hint == (hint.replace("<INVALID>", str(INVALID)) if hint else None)


def test_the_table_covers_the_whole_corpus() -> None:
    """A corpus file without a pinned message (or a pinned message without its file) is a test bug."""
    pinned = {name for name, _, _ in CORPUS} | {"spec_invalid_json.yaml"}
    assert pinned == {p.name for p in INVALID.glob("*.yaml")}
    assert len(pinned) >= 25


def test_an_invalid_spec_file_is_reported_at_its_own_line_and_names_the_gate() -> None:
    config = INVALID / "spec_invalid_json.yaml"
    error = error_of(config)
    spec = DATA / "specs" / "broken.json"
    assert (
        str(error) == f"{spec}:2: invalid JSON: Expecting property name enclosed in double quotes (column 16)"
    )
    assert error.hint == f"this file is the spec of gates[0].spec ({config}:9)"


@pytest.mark.parametrize("path", sorted(INVALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_no_error_ever_shows_the_api_key(path: Path) -> None:
    """Values from the environment are shown as written ('${VAR}'), the key itself never."""
    error = error_of(path)
    assert SECRET not in str(error)
    assert SECRET not in (error.hint or "")


def test_a_secret_passed_to_the_wrong_field_is_not_echoed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"{PROVIDERS}gates:\n  - {{name: a, agent: '${{CEKURA_API_KEY}}', scenarios: [1]}}\n")
    error = error_of(cfg)
    assert (
        str(error)
        == f"{cfg}:5: gates[0].agent: expected an integer >= 1, got a string from '${{CEKURA_API_KEY}}'"
    )


# --- files that cannot be read -----------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nope.yaml")
    assert (str(error), error.hint) == (
        f"{tmp_path / 'nope.yaml'}: config file not found",
        "check the path (relative to the current directory)",
    )


def test_a_directory(tmp_path: Path) -> None:
    error = error_of(tmp_path)
    assert (str(error), error.hint) == (
        f"{tmp_path}: is a directory, not a config file",
        "name the YAML file itself",
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_an_unreadable_file(tmp_path: Path) -> None:
    cfg = tmp_path / "secret.yaml"
    cfg.write_text("version: 1\n")
    cfg.chmod(0)
    assert str(error_of(cfg)) == f"{cfg}: cannot read the config file: permission denied"


def test_a_control_character_is_a_located_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ngates: \x07\n")
    error = error_of(cfg)
    assert str(error).startswith(f"{cfg}:2: invalid YAML:")


def test_a_recursive_alias_is_an_error_not_a_hang(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\nx-loop: &loop [*loop]\ngates: []\n")
    assert str(error_of(cfg)) == f"{cfg}:2: x-loop[0]: a YAML alias refers to a node that contains it"


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Nested aliases that would expand to millions of values stop at a fixed budget."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcde", "bcdef", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    assert str(error_of(cfg)).endswith(": YAML aliases expand the document beyond 100000 values")


# --- valid configs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(VALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_valid_config_loads(path: Path) -> None:
    """Every gate has a check, but a server-side Freeplay suite, whose own verdict is its check."""
    config = load(path)
    assert config.version == 1 and config.gates
    assert all(
        not gate.thresholds.is_empty
        for gate in config.gates
        if not (isinstance(gate, FreeplayGate) and gate.mode is FreeplayMode.SUITE)
    )


def test_the_valid_corpus_covers_every_mode() -> None:
    gates = [gate for path in VALID.glob("*.yaml") for gate in load(path).gates]
    assert {gate.mode for gate in gates if isinstance(gate, CekuraGate)} == set(CekuraMode)
    assert {gate.mode for gate in gates if isinstance(gate, FreeplayGate)} == set(FreeplayMode)


def test_the_full_config_loads_every_setting() -> None:
    """Durations become seconds, the base_url loses its trailing slash (http is fine on loopback), the
    world path is relative to the config, and merge keys share gate settings."""
    config = load(VALID / "full.yaml")
    assert config.simulator.world == os.path.normpath(VALID / "worlds" / "tiny.yaml")
    assert (config.simulator.speed, config.simulator.seed, config.simulator.faults) == (
        20.0,
        7,
        "results:429@0.1",
    )
    assert config.cekura is not None
    assert config.cekura.base_url == "http://127.0.0.1:8080"
    assert config.cekura.api_key == Secret(SECRET)
    assert config.defaults == Defaults(
        timeout=1800.0,
        overall_timeout=3600.0,
        request_timeout=45.0,
        concurrency=8,
        poll=PollPolicy(initial=2.0, maximum=20.0, multiplier=2.0, heartbeat=60.0),
        retry=RetryPolicy(attempts=4, base=0.5, maximum=10.0, budget=50, max_retry_after=120.0),
        thresholds=compile_thresholds(
            {
                "success_rate": ">= 90%",
                "max_infra_errors": 0,
                "metrics": {"Latency": ["p50 <= 2000", "p95 < 4000"], "Customer Satisfaction": "mean >= 4"},
            }
        ),
    )
    smoke, nightly = config.gates
    assert (smoke.name, smoke.agent, smoke.timeout, smoke.line) == ("smoke", 101, 600.0, 29)
    assert (nightly.name, nightly.agent, nightly.timeout, nightly.tags) == (
        "nightly.full",
        101,
        5400.0,
        ("nightly",),
    )


def test_allow_insecure_http_lets_the_key_travel_over_http_to_any_host() -> None:
    """An explicit per-provider opt-in (a platform behind a TLS-terminating proxy on a private network);
    without it, http:// is refused unless the host is loopback (see the corpus)."""
    config = load(VALID / "insecure_http.yaml")
    assert config.cekura is not None and config.freeplay is not None
    assert (config.cekura.base_url, config.cekura.allow_insecure_http) == (
        "http://cekura.internal.example:8080",
        True,
    )
    assert (config.freeplay.base_url, config.freeplay.allow_insecure_http) == (
        "http://freeplay.internal.example",
        True,
    )
    assert insecure_http_providers(config) == [
        ("cekura", "cekura.internal.example"),
        ("freeplay", "freeplay.internal.example"),
    ]


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:8000", "https://api.cekura.ai"],
    ids=["ipv4-loopback", "localhost", "ipv6-loopback", "https"],
)
def test_loopback_http_and_https_need_no_opt_in_and_draw_no_warning(tmp_path: Path, base_url: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"version: 1\nproviders:\n  cekura: {{base_url: '{base_url}', api_key: '${{CEKURA_API_KEY}}'}}\n"
        "gates: [{name: a, agent: 1, scenarios: [1]}]\n"
    )
    config = load(cfg)
    assert config.cekura is not None and not config.cekura.allow_insecure_http
    assert insecure_http_providers(config) == []


def test_gate_thresholds_merge_over_the_defaults() -> None:
    """The gate's values win key by key; its Latency check replaces both default Latency checks."""
    smoke, nightly = load(VALID / "full.yaml").gates
    assert smoke.thresholds.success_rate == Comparison(Op.GE, 0.95, False, ">= 0.95")
    assert (smoke.thresholds.max_failed_runs, smoke.thresholds.max_infra_errors) == (1, 0)
    assert [c.check_id for c in smoke.thresholds.metrics] == [
        "metric.Latency.p95",
        "metric.Customer Satisfaction.mean",
        "metric.12.pass_rate",
        "metric.Sentiment.rate(positive,neutral)",
    ]
    assert nightly.thresholds == load(VALID / "full.yaml").defaults.thresholds


def test_a_gate_without_any_check_requires_every_run_to_pass() -> None:
    """Fail closed: no thresholds anywhere must not make a vacuous pass."""
    (gate,) = load(VALID / "simulator.yaml").gates
    assert gate.thresholds == Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%"))


def test_the_simulator_needs_no_api_key_and_an_empty_default_is_null() -> None:
    config = load(VALID / "simulator.yaml", env={})
    assert config.cekura is not None and config.cekura.is_simulator
    assert config.cekura.api_key == Secret("sim-key")
    assert config.simulator.faults is None


def test_defaults_apply_when_nothing_is_set(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "version: 1\nproviders: {cekura: {api_key: k}}\ngates: [{name: a, agent: 1, scenarios: [2]}]\n"
    )
    config = load(cfg)
    assert config.defaults == Defaults()
    assert config.cekura is not None and config.cekura.base_url == DEFAULT_CEKURA_URL
    (gate,) = config.gates
    assert gate == CekuraGate(
        name="a",
        agent=1,
        mode=CekuraMode.VOICE,
        thresholds=Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%")),
        timeout=1800.0,
        line=3,
        scenarios=(ScenarioRef(2),),
    )


def test_the_api_key_never_shows_in_the_repr_of_the_config() -> None:
    config = load(VALID / "full.yaml")
    assert SECRET not in repr(config) and SECRET not in str(config)
    assert config.cekura is not None and config.cekura.api_key.reveal() == SECRET


def test_mode_specific_keys_land_in_the_gate() -> None:
    (text,) = load(VALID / "mode_text.yaml").gates
    assert text.websocket_url == "wss://agent.example.com/text"
    assert text.websocket_headers == (("Authorization", "Bearer dev-token"), ("X-Tenant", "42"))
    (ws,) = load(VALID / "mode_websocket.yaml").gates
    assert ws.scenarios == (  # a scenario without its own URL gets the gate's
        ScenarioRef(1, websocket_url="wss://agent.example.com/ws"),
        ScenarioRef(2, websocket_url="ws://127.0.0.1:8765/agent?variant=b"),  # an agent URL may need a query
    )
    assert (ws.frequency, ws.mock_tool_names) == (100, ("lookup_order",))
    (v1,) = load(VALID / "mode_pipecat_v1.yaml").gates
    assert [s.pipecat_room_url for s in v1.scenarios] == [
        "https://example.daily.co/room-1",
        "https://example.daily.co/room-2",
    ]
    ids, tags, folder = load(VALID / "mode_voice.yaml").gates
    assert (ids.frequency, ids.personalities, ids.test_profiles, ids.concurrency_limit) == (
        2,
        (1, 2),
        (3,),
        5,
    )
    assert ids.mock_tool_names == ()  # [] means "mock none", distinct from None ("mock all configured")
    assert tags.tags == ("smoke", "billing") and tags.mock_tool_names is None
    assert (folder.folder, folder.project) == ("Sales.Inbound", 5)
    (vapi,) = load(VALID / "mode_vapi.yaml").gates
    assert vapi.vapi_assistant_id == "5f1c2a9e-assistant"
    (retell,) = load(VALID / "mode_retell.yaml").gates
    assert (retell.retell_agent_id, retell.project) == ("agent_0f3c", 5)
    (email,) = load(VALID / "mode_email.yaml").gates
    assert (email.agent_email, email.frequency) == ("support@example.com", 1)


def test_json_specs_load_from_json_yaml_or_inline_as_compact_json() -> None:
    """Spec files are read as written: no ${VAR} interpolation inside them."""
    from_json, from_yaml, inline = load(VALID / "mode_json.yaml").gates
    assert from_json.spec_json is not None and from_json.spec_json.startswith('{"version":"1","suite":')
    assert "${AMOUNT}" in from_json.spec_json
    assert (from_json.channel, from_json.frequency, from_json.concurrency_limit) == ("text", 2, 4)
    assert from_yaml.spec_json is not None and "$$5 and ${NOT_INTERPOLATED}" in from_yaml.spec_json
    assert inline.spec_json == (
        '{"version":"1","suite":{"name":"Inline"},"scenarios":[{"key":"greet","name":"Greeting",'
        '"instructions":"Say hello","expected_outcome":"Agent greets back"}]}'
    )
    assert inline.scenarios == () and inline.channel is None


# --- interpolation -----------------------------------------------------------------------------------


def test_interpolation_resolves_unquoted_values_and_keeps_quoted_ones_as_strings() -> None:
    (gate,) = load(VALID / "interpolation.yaml").gates
    assert gate.name == "ci-smoke"  # default used
    assert gate.agent == 55  # unquoted ${AGENT_ID} -> the integer 55
    assert gate.scenarios == (ScenarioRef(7),)  # quoted inside [ ]: an integer field accepts the number text
    assert gate.timeout == 300.0
    assert gate.thresholds.success_rate == Comparison(Op.GE, 0.9, True, ">= 90%")
    assert gate.mock_tool_names == ("cost_$", "$HOME")  # $$ is '$'; a '$' not followed by '{' stays


def test_interpolation_uses_the_environment_and_treats_empty_as_unset_for_defaults() -> None:
    env = {**ENV, "GATE_PREFIX": "", "SCENARIO": "9", "CEKURA_URL": "https://eu.cekura.example/"}
    config = load(VALID / "interpolation.yaml", env)
    (gate,) = config.gates
    assert (gate.name, gate.scenarios) == ("ci-smoke", (ScenarioRef(9),))
    assert config.cekura is not None and config.cekura.base_url == "https://eu.cekura.example"


def test_a_variable_cannot_inject_yaml_structure(tmp_path: Path) -> None:
    """The value of a variable is one scalar: '[1, 2]' is a string, never a list."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"{PROVIDERS}gates:\n  - name: a\n    agent: 1\n    scenarios: ${{LIST}}\n")
    error = error_of(cfg, {**ENV, "LIST": "[1, 2]"})
    assert (
        str(error)
        == f"{cfg}:7: gates[0].scenarios: expected a list of scenario ids, got a string from '${{LIST}}'"
    )


def test_keys_are_never_interpolated(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\n${KEY}: 1\ngates: []\n")
    error = error_of(cfg, {"KEY": "gates"})
    assert (str(error), error.hint) == (
        f"{cfg}:2: unknown key '${{KEY}}'",
        "allowed: version, simulator, providers, defaults, gates",
    )


# --- loading never touches the network ---------------------------------------------------------------


def test_loading_a_config_makes_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("config loading must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    for path in VALID.glob("*.yaml"):
        load(path)


# --- durations ---------------------------------------------------------------------------------------

DURATIONS = [
    pytest.param("30s", 30.0, id="seconds"),
    pytest.param("5m", 300.0, id="minutes"),
    pytest.param("1h", 3600.0, id="hours"),
    pytest.param("1h30m", 5400.0, id="hours-minutes"),
    pytest.param("250ms", 0.25, id="milliseconds"),
    pytest.param("1.5s", 1.5, id="decimal"),
    pytest.param("2m30s500ms", 150.5, id="three-units"),
    pytest.param("45", 45.0, id="bare-text-is-seconds"),
    pytest.param(90, 90.0, id="bare-int-is-seconds"),
    pytest.param(0.5, 0.5, id="bare-float-is-seconds"),
    pytest.param(" 10s ", 10.0, id="surrounding-space"),
]


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


BAD_DURATIONS = [
    pytest.param("-5s", "a duration cannot be negative, got '-5s'", id="negative"),
    pytest.param(-1, "a duration cannot be negative or infinite, got -1", id="negative-number"),
    pytest.param("10 minutes", "cannot read '10 minutes' as a duration", id="words"),
    pytest.param("5x", "cannot read '5x' as a duration", id="unknown-unit"),
    pytest.param("30m1h", "units in '30m1h' must go from hours down to milliseconds, each once", id="order"),
    pytest.param("1m1m", "units in '1m1m' must go from hours down to milliseconds, each once", id="repeated"),
    pytest.param("", "empty duration", id="empty"),
]


@pytest.mark.parametrize(("text", "message"), BAD_DURATIONS)
def test_parse_duration_rejects(text: str | float, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse_duration(text)


def test_a_zero_duration_is_parsed_but_rejected_by_config(tmp_path: Path) -> None:
    assert parse_duration("0s") == 0.0
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\ndefaults: {timeout: 0s}\ngates: []\n")
    error = error_of(cfg)
    assert (str(error), error.hint) == (
        f"{cfg}:2: defaults.timeout: expected a duration > 0, got the string '0s'",
        "write e.g. 250ms, 30s, 5m, 1h or 1h30m",
    )
