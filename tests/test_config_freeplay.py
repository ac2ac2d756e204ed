"""Freeplay in the config: the provider settings, gates (dataset, server-side and client-side suites),
targets, run-name templates and the thresholds that apply to each kind of gate.

As for Cekura, the corpus ``tests/data/configs/invalid/freeplay/*.yaml`` pins every message in full:
``<file>:<line>: <key path>: <message>`` plus the hint.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.config import load_config
from runner.config_freeplay import default_description, run_context
from runner.errors import ConfigError
from runner.settings import (
    DEFAULT_FREEPLAY_URL,
    CekuraGate,
    CommandTarget,
    Config,
    FreeplayGate,
    FreeplayMode,
    HttpTarget,
    Secret,
)
from runner.thresholds import Comparison, Op, Thresholds, compile_thresholds

DATA = Path(__file__).parent / "data" / "configs"
INVALID = DATA / "invalid" / "freeplay"
VALID = DATA / "valid"
SECRET = "fp-test-SECRET-do-not-print"
ENV = {"FREEPLAY_API_KEY": SECRET, "CEKURA_API_KEY": SECRET}
NOW = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
PROJECT = "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f"
GITHUB_PUSH = {
    "GITHUB_SHA": "4f2a9c81d07be3a5c6d7e8f90123456789abcdef",
    "GITHUB_REF_NAME": "main",
    "GITHUB_REPOSITORY": "acme/support-bot",
    "GITHUB_RUN_ID": "987654321",
    "GITHUB_SERVER_URL": "https://github.com",
}
GITHUB_PR = {**GITHUB_PUSH, "GITHUB_REF_NAME": "42/merge", "GITHUB_HEAD_REF": "fix/tone"}
FAIL_CLOSED = Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%"))
TARGET = "e.g. target: {command: [python, agent.py]} or target: {url: http://127.0.0.1:8000/run}"

# file -> (":<line>: <key>: <message>" after the file path, hint); <INVALID> is the corpus directory.
CORPUS = [
    (
        "agent_on_freeplay_gate.yaml",
        ":10: gates[0]: 'agent' is not accepted in a freeplay gate",
        "'agent' works in cekura gates",
    ),
    (
        "command_mapping.yaml",
        ":11: gates[0].target.command: expected a command (a list of arguments, or a string), got a mapping",
        "e.g. command: [python, agent.py] or command: python agent.py",
    ),
    (
        "command_unclosed_quote.yaml",
        ":11: gates[0].target.command: cannot split the command: No closing quotation",
        "check the quotes, or write the command as a list, e.g. [python, agent.py]",
    ),
    (
        "cwd_missing.yaml",
        ":12: gates[0].target.cwd: directory 'agents/support' not found",
        "paths are relative to the config file; looked for <INVALID>/agents/support",
    ),
    (
        "dataset_and_suite.yaml",
        ":10: gates[0]: 'dataset' and 'suite' both select test cases",
        "keep one: dataset: <name> makes a test run of a dataset, suite: <id> runs a test suite",
    ),
    (
        "dataset_on_cekura_gate.yaml",
        ":10: gates[0]: 'dataset' is not accepted in a cekura gate",
        "'dataset' works in freeplay gates: add provider: freeplay",
    ),
    (
        "dataset_without_target.yaml",
        ":6: gates[0]: missing required key 'target'",
        f"a dataset gate runs your agent on each test case: {TARGET}",
    ),
    (
        "env_name_invalid.yaml",
        ":12: gates[0].target.env: invalid environment variable name 'MODEL-NAME'",
        "names are letters, digits and '_', not starting with a digit",
    ),
    (
        "environment_on_dataset.yaml",
        ":10: gates[0]: 'environment' is not accepted in a dataset gate",
        "'environment' works in suite gates: it picks the prompt version a suite runs",
    ),
    (
        "evaluation_bad_expression.yaml",
        ":13: gates[0].thresholds.evaluations.Answer Accuracy: unknown operator '=>'",
        "did you mean '>='?",
    ),
    (
        "evaluation_id_not_uuid.yaml",
        ":12: gates[0].target_evaluation_ids[1]: expected a UUID such as"
        " 0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f, got the string 'accuracy'",
        "evaluation ids are UUIDs; to check an evaluation by name use thresholds: evaluations",
    ),
    (
        "evaluation_rate_without_percent.yaml",
        ":13: gates[0].thresholds.evaluations.Faithfulness[1]: rate 90 is above 1:"
        " a rate without % is a fraction",
        "write 90% or 0.9",
    ),
    (
        "evaluation_source_typo.yaml",
        ":13: gates[0].thresholds.evaluations.humen:Tone: unknown evaluation source 'humen' in 'humen:Tone'",
        "did you mean 'human'?",
    ),
    (
        "evaluation_unknown_source.yaml",
        ":13: gates[0].thresholds.evaluations.robot:Helpfulness: unknown evaluation source 'robot' in"
        " 'robot:Helpfulness'",
        "sources: auto, human, client; a criterion whose name contains ':' is written with its source,"
        " e.g. 'auto:robot:Helpfulness'",
    ),
    (
        "evaluations_on_cekura_gate.yaml",
        ":10: gates[0].thresholds: 'evaluations' is not accepted in a cekura gate",
        "'evaluations' works in freeplay gates",
    ),
    (
        "freeplay_api_key_missing.yaml",
        ":4: providers.freeplay: missing required key 'api_key'",
        "add api_key: ${FREEPLAY_API_KEY} and export FREEPLAY_API_KEY",
    ),
    (
        "freeplay_allow_insecure_http_false.yaml",
        ":4: providers.freeplay.base_url: http:// is only allowed to a loopback host,"
        " not 'freeplay.internal.example'",
        "use https://: over http the API key would travel in clear text"
        " (if that is acceptable on your network, set providers.freeplay.allow_insecure_http: true)",
    ),
    (
        "freeplay_http_base_url.yaml",
        ":4: providers.freeplay.base_url: http:// is only allowed to a loopback host,"
        " not 'freeplay.internal.example'",
        "use https://: over http the API key would travel in clear text"
        " (if that is acceptable on your network, set providers.freeplay.allow_insecure_http: true)",
    ),
    (
        "freeplay_not_configured.yaml",
        ":7: gates[0].provider: provider 'freeplay' is not configured",
        "add providers: {freeplay: {api_key: ${FREEPLAY_API_KEY}}}",
    ),
    (
        "headers_on_command_target.yaml",
        ":12: gates[0].target: 'headers' is not accepted in a command target",
        "'headers' works in url targets",
    ),
    (
        "include_outputs_not_boolean.yaml",
        ":10: gates[0].include_outputs: expected true or false, got the string 'sometimes'",
        None,
    ),
    (
        "missing_project.yaml",
        ":6: gates[0]: missing required key 'project'",
        "add project: <project id> (the UUID in your Freeplay project's URL)",
    ),
    (
        "mode_on_freeplay_gate.yaml",
        ":9: gates[0]: 'mode' is not accepted in a freeplay gate",
        "a freeplay gate's mode follows from dataset or suite (and suite_execution)",
    ),
    (
        "no_dataset_or_suite.yaml",
        ":6: gates[0]: no dataset or suite selected",
        "add dataset: <dataset name> or suite: <suite id>",
    ),
    (
        "project_not_uuid.yaml",
        ":8: gates[0].project: expected a UUID such as 0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f,"
        " got the string 'my-project'",
        "the project id is the UUID in your Freeplay project's URL (.../projects/<project id>/...)",
    ),
    (
        "success_rate_on_server_suite.yaml",
        ":12: gates[0].thresholds: 'success_rate' is not accepted in a server-side suite gate",
        "a server-side suite reports no per-case results, and its own verdict (passed) is always checked:"
        " check evaluations, or set suite_execution: client",
    ),
    (
        "suite_execution_typo.yaml",
        ":10: gates[0].suite_execution: unknown suite_execution 'clinet'",
        "did you mean 'client'?",
    ),
    (
        "suite_execution_with_dataset.yaml",
        ":10: gates[0]: 'suite_execution' is not accepted in a dataset gate",
        "it chooses where a suite runs (server or client); a dataset gate always runs your target",
    ),
    (
        "target_command_and_url.yaml",
        ":12: gates[0].target: 'command' and 'url' both define the target",
        "keep one: a command runs once per test case, a url gets one POST per test case",
    ),
    (
        "target_concurrency_zero.yaml",
        ":11: gates[0].target_concurrency: expected an integer from 1 to 64, got 0",
        None,
    ),
    (
        "target_on_server_suite.yaml",
        ":10: gates[0]: 'target' is not accepted in a server-side suite gate",
        "a server-side suite runs on Freeplay: remove 'target', or set suite_execution: client to run the"
        " suite's test cases with your own target",
    ),
    (
        "target_url_without_scheme.yaml",
        ":11: gates[0].target.url: expected an https or http URL, got 'localhost:8000/run'",
        "e.g. http://127.0.0.1:8000/run",
    ),
    (
        "template_typo.yaml",
        ":10: gates[0].test_run_name: unknown placeholder '{brnch}'",
        "did you mean {branch}?",
    ),
    (
        "template_unclosed_brace.yaml",
        ":10: gates[0].description: unclosed '{' in the template",
        "placeholders: {gate}, {sha}, {short_sha}, {branch}, {repository}, {run_id}, {run_url}, {date};"
        " write {{ and }} for literal braces",
    ),
]


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(str(path), ENV if env is None else env, now=NOW)


def error_of(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path, env)
    return info.value


def gates(path: Path, env: dict[str, str] | None = None) -> dict[str, FreeplayGate]:
    return {g.name: g for g in load(path, env).gates if isinstance(g, FreeplayGate)}


def write(tmp_path: Path, gate: str, *, providers: str = "  freeplay: {api_key: k}\n") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"version: 1\nproviders:\n{providers}gates:\n  - provider: freeplay\n{gate}")
    return cfg


# --- the invalid corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "located", "hint"), CORPUS, ids=[c[0].removesuffix(".yaml") for c in CORPUS]
)
def test_each_invalid_freeplay_config_fails_with_its_pinned_message_and_hint(
    name: str, located: str, hint: str | None
) -> None:
    error = error_of(INVALID / name)
    assert str(error) == f"{INVALID / name}{located}"
    assert error.hint == (hint.replace("<INVALID>", str(INVALID)) if hint else None)


def test_the_table_covers_the_whole_freeplay_corpus() -> None:
    assert {name for name, _, _ in CORPUS} == {p.name for p in INVALID.glob("*.yaml")}


@pytest.mark.parametrize("path", sorted(INVALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_no_freeplay_error_ever_shows_the_api_key(path: Path) -> None:
    error = error_of(path)
    assert SECRET not in str(error) and SECRET not in (error.hint or "")


# --- provider settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        pytest.param("https://app.freeplay.ai", "https://app.freeplay.ai", id="app-root"),
        pytest.param("https://app.freeplay.ai/", "https://app.freeplay.ai", id="trailing-slash"),
        pytest.param("https://acme.freeplay.ai/api/v2", "https://acme.freeplay.ai", id="api-root"),
        pytest.param("https://acme.freeplay.ai/api/v2/", "https://acme.freeplay.ai", id="api-root-slash"),
        pytest.param("https://acme.freeplay.ai/api", "https://acme.freeplay.ai", id="sdk-api-base"),
        pytest.param("https://proxy.example/freeplay/api/v2", "https://proxy.example/freeplay", id="path"),
        pytest.param("http://127.0.0.1:9000/api/v2", "http://127.0.0.1:9000", id="loopback-http"),
        pytest.param("simulator", "simulator", id="simulator"),
    ],
)
def test_base_url_is_stored_as_the_app_root(tmp_path: Path, written: str, stored: str) -> None:
    """A pasted API root (or the SDK's api_base) is accepted and cut back: the provider adds /api/v2."""
    cfg = write(
        tmp_path,
        f"    name: a\n    project: {PROJECT}\n    suite: s1\n",
        providers=f"  freeplay: {{base_url: '{written}', api_key: k}}\n",
    )
    settings = load(cfg).freeplay
    assert settings is not None and settings.base_url == stored


def test_the_default_base_url_and_the_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, f"    name: a\n    project: {PROJECT}\n    suite: s1\n")
    config = load(cfg)
    assert config.freeplay is not None and config.cekura is None
    assert (config.freeplay.base_url, config.freeplay.api_key) == (DEFAULT_FREEPLAY_URL, Secret("k"))
    assert not config.freeplay.is_simulator


def test_both_providers_may_use_the_simulator_without_keys() -> None:
    config = load(VALID / "freeplay_suites.yaml", env={})
    assert config.cekura is not None and config.freeplay is not None
    assert config.cekura.is_simulator and config.freeplay.is_simulator
    assert config.cekura.api_key == config.freeplay.api_key == Secret("sim-key")


def test_an_empty_freeplay_key_names_freeplay(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        f"    name: a\n    project: {PROJECT}\n    suite: s1\n",
        providers="  freeplay: {api_key: '${FP_KEY}'}\n",
    )
    error = error_of(cfg, {"FP_KEY": ""})
    assert (str(error), error.hint) == (
        f"{cfg}:3: providers.freeplay.api_key: api_key is empty: FP_KEY is set but empty",
        "export FP_KEY with your Freeplay API key",
    )


def test_the_freeplay_key_never_shows_in_the_repr_of_the_config() -> None:
    config = load(VALID / "freeplay_dataset.yaml")
    assert SECRET not in repr(config) and SECRET not in str(config)
    assert config.freeplay is not None and config.freeplay.api_key.reveal() == SECRET


# --- gates -------------------------------------------------------------------------------------------


def test_a_dataset_gate_loads_every_setting() -> None:
    golden = gates(VALID / "freeplay_dataset.yaml")["golden"]
    assert (golden.mode, golden.dataset, golden.suite) == (FreeplayMode.DATASET, "Golden Set", None)
    assert golden.project == PROJECT  # a UUID is kept in lower case
    assert (golden.include_outputs, golden.flavor_name, golden.environment) == (True, "openai_chat", None)
    assert golden.target_evaluation_ids == ("3c1e8f70-2a4b-4d6e-8f01-23456789abcd",)
    assert (golden.timeout, golden.target_concurrency, golden.line, golden.provider) == (
        300.0,
        8,
        19,
        "freeplay",
    )


def test_a_command_string_is_split_like_a_shell_and_cwd_is_relative_to_the_config() -> None:
    golden = gates(VALID / "freeplay_dataset.yaml")["golden"]
    assert golden.target == CommandTarget(
        command=("python", "agent.py", "--style", "short answer", "--model", "small"),
        timeout=90.0,
        cwd=str(VALID / "agent"),
        env=(("MODEL_TEMPERATURE", "0.2"), ("EMPTY", ""), ("DEBUG", "yes")),  # values as written
    )


def test_a_command_list_keeps_its_arguments_and_cwd_defaults_to_the_config_directory() -> None:
    """Arguments are text as written (42 is "42"); the default cwd is absolute, like every cwd."""
    target = gates(VALID / "freeplay_dataset.yaml")["defaults-only"].target
    assert target == CommandTarget(command=("./run-agent", "--json", "42"), timeout=60.0, cwd=str(VALID))


def test_cwd_is_absolute_even_for_a_config_named_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agent").mkdir()
    write(tmp_path, f"    name: a\n    project: {PROJECT}\n    dataset: d\n    target: {{command: run}}\n")
    monkeypatch.chdir(tmp_path)
    (gate,) = load_config("c.yaml", ENV).gates
    assert isinstance(gate, FreeplayGate) and isinstance(gate.target, CommandTarget)
    assert gate.target.cwd == str(tmp_path) and os.path.isabs(gate.target.cwd)


def test_a_url_target_takes_headers_and_any_host_over_http() -> None:
    client = gates(VALID / "freeplay_suites.yaml")["suite-client"]
    assert (client.mode, client.environment, client.description) == (
        FreeplayMode.SUITE_CLIENT,
        "production",
        None,  # suite runs take no description
    )
    assert client.target == HttpTarget(
        url="http://10.0.0.5:8000/agent?variant=b",
        timeout=60.0,
        headers=(("Authorization", "Bearer dev-token"), ("X-Tenant", "42")),
    )
    assert client.target_concurrency == 4


def test_a_server_side_suite_has_no_target_and_is_the_default_execution() -> None:
    server = gates(VALID / "freeplay_suites.yaml")["suite-server"]
    assert (server.mode, server.suite, server.target, server.environment) == (
        FreeplayMode.SUITE,
        "5b2d9e1a-7c3f-4e21-9d8a-0b1c2d3e4f50",
        None,
        "staging",
    )


@pytest.mark.parametrize(
    ("gate", "message", "hint"),
    [
        pytest.param(
            "suite: s1\n    suite_execution: client\n",
            ":5: gates[0]: missing required key 'target'",
            f"a client-side suite gate runs your agent on each test case: {TARGET}",
            id="client-suite-without-target",
        ),
        pytest.param(
            "suite: s1\n    target_concurrency: 2\n",
            ":9: gates[0]: 'target_concurrency' is not accepted in a server-side suite gate",
            "a server-side suite runs on Freeplay: remove 'target_concurrency', or set"
            " suite_execution: client to run the suite's test cases with your own target",
            id="concurrency-on-server-suite",
        ),
        pytest.param(
            "suite: s1\n    flavor_name: x\n",
            ":9: gates[0]: 'flavor_name' is not accepted in a server-side suite gate",
            "'flavor_name' works in dataset gates: a suite run takes no such field",
            id="dataset-key-on-suite",
        ),
        pytest.param(
            "suite: 'a/b'\n",
            ":8: gates[0].suite: expected a suite id, got the string 'a/b'",
            "a suite id is the id Freeplay shows for the suite: letters, digits, '-', '_', '.', '~'",
            id="suite-id-with-slash",
        ),
        pytest.param(
            "dataset: d\n    target: {url: 'http://127.0.0.1/run', cwd: .}\n",
            ":9: gates[0].target: 'cwd' is not accepted in a url target",
            "'cwd' works in command targets",
            id="cwd-on-url-target",
        ),
        pytest.param(
            "dataset: d\n    target: {timeout: 5s}\n",
            ":9: gates[0].target: the target needs 'command' or 'url'",
            TARGET,
            id="target-without-command-or-url",
        ),
        pytest.param(
            "dataset: d\n    target: python agent.py\n",
            ":9: gates[0].target: expected a target (a mapping with command or url), got the string"
            " 'python agent.py'",
            TARGET,
            id="target-as-string",
        ),
        pytest.param(
            "dataset: d\n    target: {command: []}\n",
            ":9: gates[0].target.command: the list of command arguments is empty",
            "list at least one, or remove the key",
            id="empty-command-list",
        ),
        pytest.param(
            "dataset: d\n    target: {command: '  '}\n",
            ":9: gates[0].target.command: the command is empty",
            "e.g. command: [python, agent.py] or command: python agent.py",
            id="blank-command-string",
        ),
        pytest.param(
            "dataset: d\n    target: {command: 7}\n",
            ":9: gates[0].target.command: expected a command (a list of arguments, or a string), got 7",
            "e.g. command: [python, agent.py] or command: python agent.py",
            id="command-number",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run, cwd: c.yaml}\n",
            ":9: gates[0].target.cwd: 'c.yaml' is not a directory",
            "cwd names a directory",
            id="cwd-is-a-file",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run, timeout: 0s}\n",
            ":9: gates[0].target.timeout: expected a duration > 0, got the string '0s'",
            "write e.g. 250ms, 30s, 5m, 1h or 1h30m",
            id="zero-target-timeout",
        ),
        pytest.param(
            "dataset: d\n    target: {url: 'https://user:pw@agent.example/run'}\n",
            ":9: gates[0].target.url: the URL must not contain credentials",
            "send credentials in headers, e.g. {Authorization: Bearer ${AGENT_TOKEN}}",
            id="credentials-in-target-url",
        ),
        pytest.param(
            "dataset: d\n    target: {command: [python, agent.py], env: {A: ~}}\n",
            ":9: gates[0].target.env.A: expected a value (write '' for an empty one), got nothing (null)",
            None,
            id="null-env-value",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n    target_evaluation_ids: []\n",
            ":10: gates[0].target_evaluation_ids: the list of evaluation ids is empty",
            "list at least one, or remove the key",
            id="empty-evaluation-ids",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n"
            f"    target_evaluation_ids: [{PROJECT}, {PROJECT.upper()}]\n",
            f":10: gates[0].target_evaluation_ids[1]: duplicate evaluation id {PROJECT}",
            "list each evaluation once",
            id="duplicate-evaluation-ids",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n    test_run_name: '{sha:.7}'\n",
            ":10: gates[0].test_run_name: bad placeholder '{sha:.7}'",
            "placeholders: {gate}, {sha}, {short_sha}, {branch}, {repository}, {run_id}, {run_url}, {date};"
            " write {{ and }} for literal braces",
            id="format-spec-in-placeholder",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n    test_run_name: 'run } {gate}'\n",
            ":10: gates[0].test_run_name: single '}' in the template: write }} for a literal '}'",
            "placeholders: {gate}, {sha}, {short_sha}, {branch}, {repository}, {run_id}, {run_url}, {date};"
            " write {{ and }} for literal braces",
            id="single-closing-brace",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n    thresholds: {success_rate: 'p50 >= 1'}\n",
            ":10: gates[0].thresholds.success_rate: expected a rate such as '>= 90%' or 0.9, found 'p50'",
            "success_rate is the share of passed runs; checks on metrics go under 'metrics'",
            id="threshold-syntax-on-a-freeplay-gate",
        ),
        pytest.param(
            "dataset: d\n    target: {command: run}\n    scenarois: [1]\n",
            ":10: gates[0]: unknown key 'scenarois'",
            "allowed: name, provider, project, dataset, suite, suite_execution, include_outputs, flavor_name,"
            " target_evaluation_ids, environment, test_run_name, description, target, target_concurrency,"
            " timeout, thresholds, labels, blocking, baseline, statistics",
            id="unknown-key-lists-freeplay-keys",
        ),
    ],
)
def test_more_gate_mistakes(tmp_path: Path, gate: str, message: str, hint: str | None) -> None:
    cfg = write(tmp_path, f"    name: a\n    project: {PROJECT}\n    {gate}")
    error = error_of(cfg)
    assert (str(error), error.hint) == (f"{cfg}{message}", hint)


def test_a_cekura_gate_whose_provider_is_written_gets_no_provider_advice(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "version: 1\nproviders: {cekura: {api_key: k}}\n"
        "gates:\n  - {name: a, provider: cekura, agent: 1, scenarios: [1], suite: s1}\n"
    )
    error = error_of(cfg)
    assert (str(error), error.hint) == (
        f"{cfg}:4: gates[0]: 'suite' is not accepted in a cekura gate",
        "'suite' works in freeplay gates",
    )


def test_gate_names_are_unique_across_providers(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "version: 1\nproviders: {cekura: {api_key: k}, freeplay: {api_key: k}}\ngates:\n"
        "  - {name: a, agent: 1, scenarios: [1]}\n"
        f"  - {{name: a, provider: freeplay, project: {PROJECT}, suite: s1}}\n"
    )
    assert str(error_of(cfg)) == f"{cfg}:5: gates[1].name: duplicate gate name 'a' (first on line 4)"


# --- templates ---------------------------------------------------------------------------------------


def test_outside_ci_the_defaults_name_the_gate_and_say_local() -> None:
    gate = gates(VALID / "freeplay_dataset.yaml", ENV)["defaults-only"]
    assert gate.test_run_name == "regate defaults-only local"
    assert gate.description == "regate gate defaults-only; local run"


def test_in_ci_the_defaults_name_the_commit_branch_and_run() -> None:
    gate = gates(VALID / "freeplay_dataset.yaml", {**ENV, **GITHUB_PUSH})["defaults-only"]
    assert gate.test_run_name == "regate defaults-only 4f2a9c8"
    assert gate.description == (
        "regate gate defaults-only; commit 4f2a9c81d07be3a5c6d7e8f90123456789abcdef on main; "
        "https://github.com/acme/support-bot/actions/runs/987654321"
    )


def test_written_templates_render_every_placeholder_and_literal_braces() -> None:
    golden = gates(VALID / "freeplay_dataset.yaml", {**ENV, **GITHUB_PR})["golden"]
    assert golden.test_run_name == "nightly fix/tone@4f2a9c8 {2026-03-01}"  # the PR's branch, the UTC date
    assert golden.description == (
        "acme/support-bot run 987654321: https://github.com/acme/support-bot/actions/runs/987654321"
    )
    local = gates(VALID / "freeplay_dataset.yaml")["golden"]
    assert (local.test_run_name, local.description) == ("nightly @local {2026-03-01}", "run :")


def test_suites_render_the_run_name_but_take_no_description() -> None:
    suites = gates(VALID / "freeplay_suites.yaml", GITHUB_PUSH)
    assert suites["suite-server"].test_run_name == "regate suite-server 4f2a9c8"
    assert suites["suite-client"].test_run_name == "suite-client"
    assert all(g.description is None for g in suites.values())


def test_a_name_that_renders_blank_is_left_unset(tmp_path: Path) -> None:
    cfg = write(
        tmp_path, f"    name: a\n    project: {PROJECT}\n    suite: s1\n    test_run_name: ' {{sha}} '\n"
    )
    (gate,) = load(cfg).gates
    assert isinstance(gate, FreeplayGate) and gate.test_run_name is None


def test_a_template_from_the_environment_is_never_echoed(tmp_path: Path) -> None:
    cfg = write(
        tmp_path, f"    name: a\n    project: {PROJECT}\n    suite: s1\n    test_run_name: '${{RUN_NAME}}'\n"
    )
    error = error_of(cfg, {**ENV, "RUN_NAME": "{hidden-value}"})
    assert str(error) == f"{cfg}:9: gates[0].test_run_name: bad placeholder in the template '${{RUN_NAME}}'"
    assert "hidden" not in str(error) + (error.hint or "")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {},
            {
                "sha": "",
                "short_sha": "local",
                "branch": "",
                "repository": "",
                "run_id": "",
                "run_url": "",
                "date": "2026-03-01",
            },
            id="local",
        ),
        pytest.param(
            GITHUB_PR,
            {
                "sha": GITHUB_PUSH["GITHUB_SHA"],
                "short_sha": "4f2a9c8",
                "branch": "fix/tone",
                "repository": "acme/support-bot",
                "run_id": "987654321",
                "run_url": "https://github.com/acme/support-bot/actions/runs/987654321",
                "date": "2026-03-01",
            },
            id="pull-request",
        ),
        pytest.param(
            {"GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "7", "GITHUB_SERVER_URL": "https://ghe.example/"},
            {
                "sha": "",
                "short_sha": "local",
                "branch": "",
                "repository": "a/b",
                "run_id": "7",
                "run_url": "https://ghe.example/a/b/actions/runs/7",
                "date": "2026-03-01",
            },
            id="enterprise-server",
        ),
    ],
)
def test_run_context(env: dict[str, str], expected: dict[str, str]) -> None:
    assert run_context(env, NOW) == expected


def test_the_date_is_the_utc_date() -> None:
    from datetime import timedelta, timezone

    tokyo = datetime(2026, 3, 2, 8, 30, tzinfo=timezone(timedelta(hours=9)))  # 2026-03-01 23:30 UTC
    assert run_context({}, tokyo)["date"] == "2026-03-01"


def test_the_default_description_leaves_out_what_is_unknown() -> None:
    values = {**run_context({"GITHUB_REF_NAME": "main"}, NOW), "gate": "g"}
    assert default_description(values) == "regate gate g; branch main; local run"


# --- thresholds --------------------------------------------------------------------------------------


def test_gate_evaluations_replace_the_defaults_for_the_same_key_and_keep_the_others() -> None:
    golden = gates(VALID / "freeplay_dataset.yaml")["golden"]
    assert [c.check_id for c in golden.thresholds.evaluations] == [
        "evaluation.Answer Accuracy.pass_rate",  # from the defaults
        "evaluation.auto:Helpfulness.mean",  # the gate's two checks replace the default's one, in place
        "evaluation.auto:Helpfulness.count",
        "evaluation.Faithfulness.rate(yes)",
        "evaluation.client:exact_match.pass_rate",
        "evaluation.client:exact_match.pass_rate#2",
    ]
    assert [(c.source, c.criterion) for c in golden.thresholds.evaluations][:2] == [
        (None, "Answer Accuracy"),
        ("auto", "Helpfulness"),
    ]
    assert golden.thresholds.max_target_errors == 2  # overrides the defaults' 0
    assert [c.check_id for c in golden.thresholds.metrics] == ["metric.exact_match.mean"]
    assert golden.thresholds.success_rate is None  # checks are set: nothing is added


def test_a_dataset_gate_inherits_the_defaults() -> None:
    config = load(VALID / "freeplay_dataset.yaml")
    gate = gates(VALID / "freeplay_dataset.yaml")["defaults-only"]
    assert gate.thresholds == config.defaults.thresholds
    assert gate.timeout == 1200.0


def test_a_cekura_gate_drops_inherited_freeplay_thresholds_and_fails_closed() -> None:
    (voice,) = [g for g in load(VALID / "freeplay_dataset.yaml").gates if isinstance(g, CekuraGate)]
    assert voice.thresholds == FAIL_CLOSED


def test_a_server_side_suite_keeps_only_evaluations_and_adds_no_success_rate() -> None:
    """Its own `passed` is its implicit check; the defaults' success_rate and max_failed_runs do not apply."""
    suites = gates(VALID / "freeplay_suites.yaml")
    assert suites["suite-server"].thresholds == compile_thresholds(
        {"evaluations": {"accuracy": "mean >= 0.8", "human:Tone": "rate(friendly, neutral) >= 75%"}}
    )
    assert suites["suite-verdict-only"].thresholds.is_empty


def test_a_client_side_suite_inherits_run_thresholds_and_tolerates_no_target_error() -> None:
    """Cases the target failed are never a silent pass: max_target_errors is 0 unless written."""
    client = gates(VALID / "freeplay_suites.yaml")["suite-client"]
    assert client.thresholds == compile_thresholds(
        {"success_rate": ">= 90%", "max_failed_runs": 1, "max_target_errors": 0}
    )


def test_a_dataset_gate_without_any_check_requires_every_case_to_succeed(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        f"    name: a\n    project: {PROJECT}\n    dataset: d\n    target: {{url: 'https://a.example'}}\n",
    )
    (gate,) = load(cfg).gates
    assert gate.thresholds == replace(FAIL_CLOSED, max_target_errors=0)


def test_a_client_side_suite_without_any_check_fails_closed_too(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        f"    name: a\n    project: {PROJECT}\n    suite: s1\n    suite_execution: client\n"
        "    target: {command: run}\n",
    )
    (gate,) = load(cfg).gates
    assert isinstance(gate, FreeplayGate) and gate.mode is FreeplayMode.SUITE_CLIENT
    assert gate.thresholds == replace(FAIL_CLOSED, max_target_errors=0)
