"""``configs/schema.json``, the JSON Schema editors use to complete and check configs, describes exactly what
the loader accepts, as far as JSON Schema can:

- every example and valid config passes both the schema and the loader;
- every config the loader rejects, the schema rejects too, but for a short, explicit list of files the schema
  cannot judge (each with its reason, each still rejected by the loader);
- the schema's key sets are the loader's key tuples, so a key added to one and not the other fails here;
- on a table of single values (durations, rates, checks, names, URLs, ...) both give the same verdict;
- every config under ``configs/`` points editors at the schema on its first line.

The schema sees a config as an editor does: the YAML document with ``${VAR}`` references as written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runner.config import (
    DEFAULTS_KEYS,
    POLL_KEYS,
    PROVIDER_KEYS,
    PROVIDER_SETTING_KEYS,
    RETRY_KEYS,
    SIMULATOR_KEYS,
    TOP_KEYS,
    load_config,
)
from runner.config_freeplay import EXECUTIONS, FREEPLAY_KEYS, PLACEHOLDERS, SERVER_SUITE_THRESHOLDS
from runner.config_freeplay import MODE_KEYS as FREEPLAY_MODE_KEYS
from runner.config_gates import CEKURA_THRESHOLDS, GATE_KEYS, JSON_CHANNELS, MODE_KEYS, PROVIDERS
from runner.config_target import TARGET_KEYS
from runner.errors import ConfigError
from runner.settings import CekuraMode, FreeplayMode
from runner.thresholds import THRESHOLD_KEYS
from runner.yamlpos import load, to_plain

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
SCHEMA_PATH = CONFIGS / "schema.json"
DATA = Path(__file__).parent / "data" / "configs"
VALID = DATA / "valid"
INVALID = DATA / "invalid"
SUPPORT_DIRS = ("specs", "worlds", "agent")  # files the valid configs refer to, not configs themselves
ENV = {
    "CEKURA_API_KEY": "sk-test-key",
    "FREEPLAY_API_KEY": "fp-test-key",
    "OPENAI_API_KEY": "sk-openai-test",
    "AGENT_TOKEN": "agent-token",
    "AGENT_ID": "55",
    "EMPTY_KEY": "",
}

# Invalid configs the schema cannot reject, and why. Each must still be rejected by the loader, and must
# still be beyond the schema: a file the schema rejects after all is a test failure, to keep this list short.
SCHEMA_CANNOT_JUDGE = {
    # not a YAML document an editor could validate
    "not_utf8.yaml": "not UTF-8 text",
    "yaml_syntax.yaml": "YAML syntax error (an unclosed flow sequence)",
    "tab_indent.yaml": "YAML syntax error (a tab in the indentation)",
    "unquoted_threshold.yaml": "YAML syntax error (an unquoted '>' starts a block scalar)",
    "two_documents.yaml": "two YAML documents in one file",
    "python_tag.yaml": "a YAML tag (!!python/...), refused while reading the YAML",
    "duplicate_key.yaml": "a duplicate key, refused while reading the YAML (JSON has no duplicate keys)",
    "merge_duplicate_key.yaml": "a duplicate key next to a merge key, refused while reading the YAML",
    # the value comes from the environment, which the schema never sees
    "api_key_empty.yaml": "api_key is ${EMPTY_KEY}, a variable that is set but empty",
    "unset_env_var.yaml": "${SMOKE_AGENT_ID} is not set in the environment",
    # files on disk
    "spec_file_missing.yaml": "the spec file does not exist on disk",
    "spec_invalid_json.yaml": "the spec file exists but is not valid JSON",
    "freeplay/cwd_missing.yaml": "the target's cwd does not exist on disk",
    # rules across values that JSON Schema cannot express
    "duplicate_gate_name.yaml": "gate names must be unique (uniqueItems compares whole gates, not one key)",
    "poll_initial_over_max.yaml": "poll.initial must not exceed poll.max (comparing two durations)",
}


# --- helpers -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


class NoDocument(Exception):
    """The file is not one YAML document, so there is nothing for the schema to validate."""


def document(path: Path) -> object:
    """The config as an editor validates it: the YAML document, ``${VAR}`` references as written, merge keys
    applied, mapping keys as text. Raises ``NoDocument`` for what is not one readable YAML document."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        node = load(text, file=str(path), env={}, interpolate=False)
    except (UnicodeDecodeError, ConfigError) as exc:
        raise NoDocument(str(exc)) from exc
    return None if node is None else to_plain(node)


def schema_errors(validator: Draft202012Validator, path: Path) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document(path))
    ]


def loader_error(path: Path, env: Mapping[str, str] = ENV) -> ConfigError | None:
    try:
        load_config(str(path), env)
    except ConfigError as exc:
        return exc
    return None


def ids(root: Path) -> Any:
    return lambda path: str(path.relative_to(root))


def example_configs() -> list[Path]:
    return sorted(CONFIGS.rglob("*.yaml"))


def valid_configs() -> list[Path]:
    return sorted(p for p in VALID.rglob("*.yaml") if p.relative_to(VALID).parts[0] not in SUPPORT_DIRS)


def invalid_configs() -> list[Path]:
    return sorted(INVALID.rglob("*.yaml"))


def judged_invalid_configs() -> list[Path]:
    return [p for p in invalid_configs() if p.relative_to(INVALID).as_posix() not in SCHEMA_CANNOT_JUDGE]


# --- the schema itself -------------------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]


def described_properties(node: object, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema of every ``properties`` mapping, with where it is."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and sub:  # `false` and `{}` only narrow a property in a condition
                yield f"{where}/properties/{name}", sub
        for key, value in node.items():
            if key != "properties":
                yield from described_properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from described_properties(value, f"{where}/{i}")


def test_every_property_has_a_description_for_editors(schema: dict[str, Any]) -> None:
    """Editors show the description on hover and in completion lists. Properties inside if/then conditions
    only narrow a described property, so they need none."""
    conditions = ("/if/", "/then/", "/else/")
    missing = [
        where
        for where, sub in described_properties(schema)
        if not any(c in where + "/" for c in conditions)
        and "description" not in sub
        and "description" not in schema["$defs"].get(sub.get("$ref", "").removeprefix("#/$defs/"), {})
    ]
    assert missing == []


# --- configs that are valid --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", example_configs() + valid_configs(), ids=ids(ROOT))
def test_every_example_and_valid_config_passes_the_schema_and_the_loader(
    validator: Draft202012Validator, path: Path
) -> None:
    assert schema_errors(validator, path) == []
    assert loader_error(path) is None


def test_the_valid_corpus_holds_only_configs_and_their_support_files() -> None:
    """A valid config must not hide in a support folder, where the test above would skip it."""
    for folder in SUPPORT_DIRS:
        for path in (VALID / folder).rglob("*.yaml"):
            data = document(path)
            assert not (isinstance(data, dict) and "gates" in data), path


# --- configs that are invalid ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", judged_invalid_configs(), ids=ids(INVALID))
def test_what_the_loader_rejects_the_schema_rejects(validator: Draft202012Validator, path: Path) -> None:
    assert loader_error(path) is not None, "the loader accepts this invalid config"
    try:
        errors = schema_errors(validator, path)
    except NoDocument as exc:
        pytest.fail(f"not a YAML document ({exc}): list it in SCHEMA_CANNOT_JUDGE with the reason")
    assert errors, "the schema accepts a config the loader rejects"


@pytest.mark.parametrize(
    ("name", "reason"), sorted(SCHEMA_CANNOT_JUDGE.items()), ids=sorted(SCHEMA_CANNOT_JUDGE)
)
def test_each_config_the_schema_cannot_judge_is_rejected_by_the_loader_and_beyond_the_schema(
    validator: Draft202012Validator, name: str, reason: str
) -> None:
    path = INVALID / name
    assert path.is_file(), f"{name} is gone: remove it from SCHEMA_CANNOT_JUDGE"
    assert loader_error(path) is not None, f"the loader accepts {name} ({reason})"
    try:
        errors = schema_errors(validator, path)
    except NoDocument:
        return
    assert errors == [], f"the schema rejects {name} after all: remove it from SCHEMA_CANNOT_JUDGE"


# --- the schema's keys are the loader's keys ---------------------------------------------------------------


def keys(node: Mapping[str, Any]) -> set[str]:
    return set(node["properties"])


def test_the_schema_has_the_loaders_keys_and_refuses_others(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    top = schema["properties"]
    defaults = top["defaults"]["properties"]
    sections = {
        "top level": (schema, TOP_KEYS),
        "providers": (top["providers"], PROVIDER_KEYS),
        "providers.cekura": (top["providers"]["properties"]["cekura"], PROVIDER_SETTING_KEYS),
        "providers.freeplay": (top["providers"]["properties"]["freeplay"], PROVIDER_SETTING_KEYS),
        "simulator": (top["simulator"], SIMULATOR_KEYS),
        "defaults": (top["defaults"], DEFAULTS_KEYS),
        "defaults.poll": (defaults["poll"], POLL_KEYS),
        "defaults.retry": (defaults["retry"], RETRY_KEYS),
        "thresholds": (defs["thresholds"], THRESHOLD_KEYS),
        "cekura gate thresholds": (defs["cekuraThresholds"], CEKURA_THRESHOLDS),
        "server-side suite thresholds": (defs["serverSuiteThresholds"], SERVER_SUITE_THRESHOLDS),
        "cekura gate": (defs["cekuraGate"], GATE_KEYS),
        "freeplay gate": (defs["freeplayGate"], FREEPLAY_KEYS),
        "target": (defs["target"], TARGET_KEYS),
    }
    for where, (section, loader_keys) in sections.items():
        assert keys(section) == set(loader_keys), where
        assert section["additionalProperties"] is False, where
    assert schema["patternProperties"] == {"^x-": schema["patternProperties"]["^x-"]}


def enum_of(node: Mapping[str, Any]) -> list[str]:
    return next(choice["enum"] for choice in node["anyOf"] if "enum" in choice)


def test_the_schema_has_the_loaders_choices(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert enum_of(defs["cekuraGate"]["properties"]["mode"]) == [m.value for m in CekuraMode]
    assert enum_of(defs["cekuraGate"]["properties"]["channel"]) == list(JSON_CHANNELS)
    assert enum_of(defs["provider"]) == list(PROVIDERS)
    assert enum_of(defs["freeplayGate"]["properties"]["suite_execution"]) == list(EXECUTIONS)


def refused_keys(rules: list[dict[str, Any]], condition: Mapping[str, Any]) -> set[str]:
    """The keys a gate's ``then`` sets to ``false`` under the ``if`` that is exactly ``condition``."""
    rule = next(rule for rule in rules if rule["if"] == condition)
    return {key for key, sub in rule["then"].get("properties", {}).items() if sub is False}


@pytest.mark.parametrize("mode", list(CekuraMode), ids=str)
def test_each_cekura_mode_refuses_the_keys_the_loader_refuses_in_it(
    schema: dict[str, Any], mode: CekuraMode
) -> None:
    condition: dict[str, Any] = {"properties": {"mode": {"const": mode.value}}}
    if mode is not CekuraMode.VOICE:  # a gate without a mode is a voice gate
        condition = {"required": ["mode"], **condition}
    rules = schema["$defs"]["cekuraGate"]["allOf"]
    assert refused_keys(rules, condition) == {key for key, modes in MODE_KEYS.items() if mode not in modes}


@pytest.mark.parametrize("mode", list(FreeplayMode), ids=str)
def test_each_freeplay_mode_refuses_the_keys_the_loader_refuses_in_it(
    schema: dict[str, Any], mode: FreeplayMode
) -> None:
    conditions = {
        FreeplayMode.DATASET: {"required": ["dataset"]},
        FreeplayMode.SUITE: {
            "required": ["suite"],
            "not": {"required": ["dataset"]},
            "properties": {"suite_execution": {"const": "server"}},
        },
        FreeplayMode.SUITE_CLIENT: {
            "required": ["suite", "suite_execution"],
            "not": {"required": ["dataset"]},
            "properties": {"suite_execution": {"const": "client"}},
        },
    }
    expected = {key for key, (modes, _) in FREEPLAY_MODE_KEYS.items() if mode not in modes}
    if mode is FreeplayMode.DATASET:
        expected.add("suite_execution")  # the loader's own rule: a dataset gate always runs the target
    rules = schema["$defs"]["freeplayGate"]["allOf"]
    assert refused_keys(rules, conditions[mode]) == expected


# --- single values: the schema and the loader agree ---------------------------------------------------------

UUID = "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f"
BOTH_PROVIDERS = "providers:\n  cekura: {api_key: k}\n  freeplay: {api_key: k}\n"


def config(gate: str, providers: str = BOTH_PROVIDERS) -> str:
    return f"version: 1\n{providers}gates:\n  - {gate}\n"


def cekura(keys: str) -> str:
    return config(f"{{name: g, agent: 1{keys}}}")


def voice(keys: str) -> str:
    return cekura(f", scenarios: [1]{keys}")


def dataset(keys: str, target: str = ", target: {command: agent}") -> str:
    return config(f"{{name: g, provider: freeplay, project: {UUID}, dataset: d{target}{keys}}}")


def suite(keys: str) -> str:
    return config(f"{{name: g, provider: freeplay, project: {UUID}, suite: s{keys}}}")


def cekura_provider(settings: str) -> str:
    return config("{name: g, agent: 1, scenarios: [1]}", providers=f"providers:\n  cekura: {settings}\n")


def metric(check: str) -> str:
    return voice(f", thresholds: {{metrics: {{M: {check}}}}}")


def evaluation(key: str) -> str:
    return dataset(f", thresholds: {{evaluations: {{'{key}': 'mean >= 1'}}}}")


VALUES = [
    pytest.param(voice(", timeout: 30s"), True, id="duration-seconds"),
    pytest.param(voice(", timeout: 1h30m"), True, id="duration-compound"),
    pytest.param(voice(", timeout: 250ms"), True, id="duration-milliseconds"),
    pytest.param(voice(", timeout: 90"), True, id="duration-bare-number"),
    pytest.param(voice(", timeout: 0s"), False, id="duration-zero"),
    pytest.param(voice(", timeout: 5m1h"), False, id="duration-units-out-of-order"),
    pytest.param(voice(", timeout: 10 minutes"), False, id="duration-in-words"),
    pytest.param(voice(", timeout: true"), False, id="duration-boolean"),
    pytest.param(voice(", timeout: '${GATE_TIMEOUT:-5m}'"), True, id="duration-from-env"),
    pytest.param(voice(', thresholds: {success_rate: ">= 90%"}'), True, id="rate-percent"),
    pytest.param(voice(", thresholds: {success_rate: 0.9}"), True, id="rate-fraction"),
    pytest.param(voice(", thresholds: {success_rate: 90}"), False, id="rate-bare-90"),
    pytest.param(voice(', thresholds: {success_rate: "> 100.5%"}'), False, id="rate-over-100-percent"),
    pytest.param(voice(', thresholds: {success_rate: "=> 90%"}'), False, id="rate-mistyped-op"),
    pytest.param(metric('"MEAN>=4"'), True, id="check-mean"),
    pytest.param(metric('"p95 <= 2000 ms"'), False, id="check-unit"),
    pytest.param(metric('"count >= 5.0"'), True, id="check-count-whole"),
    pytest.param(metric('"count >= 5.5"'), False, id="check-count-fraction"),
    pytest.param(metric("'rate(\"a b\", c) >= 50%'"), True, id="check-rate-labels"),
    pytest.param(metric('"rate() >= 50%"'), False, id="check-rate-no-label"),
    pytest.param(metric('"pass_rate >= 90"'), False, id="check-rate-without-percent"),
    pytest.param(metric("[mean >= 4, 5]"), False, id="check-not-a-string"),
    pytest.param(metric("null"), False, id="check-null"),
    pytest.param(voice(", thresholds: {max_failed_runs: -1}"), False, id="count-negative"),
    pytest.param(config("{name: 2024, agent: 1, scenarios: [1]}"), True, id="gate-name-number"),
    pytest.param(config(f"{{name: {'a' * 101}, agent: 1, scenarios: [1]}}"), False, id="gate-name-too-long"),
    pytest.param(config("{name: café, agent: 1, scenarios: [1]}"), False, id="gate-name-accent"),
    pytest.param(voice(", labels: [nightly, pr.1]"), True, id="labels"),
    pytest.param(voice(", labels: []"), False, id="labels-empty-list"),
    pytest.param(voice(", labels: nightly"), False, id="labels-not-a-list"),
    pytest.param(voice(', labels: ["night ly"]'), False, id="label-with-space"),
    pytest.param(voice(f", labels: [{'x' * 65}]"), False, id="label-too-long"),
    pytest.param(voice(", blocking: false"), True, id="blocking-false"),
    pytest.param(voice(", blocking: sure"), False, id="blocking-word"),
    pytest.param(config("{name: g, agent: 0, scenarios: [1]}"), False, id="agent-zero"),
    pytest.param(config("{name: g, agent: '${AGENT_ID}', scenarios: [1]}"), True, id="agent-from-env"),
    pytest.param(config("{name: g, agent: '${AGENT-ID}', scenarios: [1]}"), False, id="agent-bad-reference"),
    pytest.param(voice(", mode: text, websocket_url: 'WSS://a.example:443/ws?x=1'"), True, id="ws-url"),
    pytest.param(voice(", mode: text, websocket_url: 'wss://a.example/ws#x'"), False, id="ws-url-fragment"),
    pytest.param(
        voice(", mode: text, websocket_url: 'wss://u@a.example/ws'"), False, id="ws-url-credentials"
    ),
    pytest.param(voice(", mode: text, websocket_headers: {'X Y': a}"), False, id="header-name"),
    pytest.param(voice(", mode: email, agent_email: 'a b@c'"), False, id="email"),
    pytest.param(voice(", mode: email, frequency: 101"), False, id="frequency-capped"),
    pytest.param(voice(", mode: voice, frequency: 1000"), True, id="frequency-uncapped"),
    pytest.param(voice(", tags: [a], folder: b, project: 1"), False, id="three-selectors"),
    pytest.param(cekura(", mode: json, spec: {scenarios: [{name: a}]}"), True, id="json-inline-spec"),
    pytest.param(cekura(", mode: json, spec: {scenarios: []}"), False, id="json-spec-without-scenarios"),
    pytest.param(voice(", mode: json, spec: {scenarios: [{}]}"), False, id="json-with-scenarios"),
    pytest.param(dataset(", test_run_name: '{{{{{date}}}}} {gate}'"), True, id="template-placeholders"),
    pytest.param(dataset(", test_run_name: '{commit}'"), False, id="template-unknown-placeholder"),
    pytest.param(dataset(", test_run_name: 'a } b'"), False, id="template-single-brace"),
    pytest.param(dataset(", test_run_name: '  '"), False, id="template-blank"),
    pytest.param(dataset("", target=", target: {command: \"a --style 'short answer'\"}"), True, id="command"),
    pytest.param(dataset("", target=', target: {command: "a \'unclosed"}'), False, id="command-open-quote"),
    pytest.param(dataset("", target=", target: {command: []}"), False, id="command-empty-list"),
    pytest.param(dataset("", target=", target: {command: 5}"), False, id="command-number"),
    pytest.param(dataset("", target=", target: {command: [x, 1, true]}"), True, id="command-of-scalars"),
    pytest.param(dataset("", target=", target: {command: [x, null]}"), False, id="command-null-argument"),
    pytest.param(dataset("", target=", target: {url: 'http://10.0.0.5/run?x=1'}"), True, id="target-url"),
    pytest.param(dataset("", target=", target: {url: 'http://a:99999/run'}"), False, id="target-url-port"),
    pytest.param(dataset("", target=", target: {command: x, env: {A: null}}"), False, id="target-env-null"),
    pytest.param(evaluation("AUTO : Tone"), True, id="evaluation-source"),
    pytest.param(evaluation("x:y"), False, id="evaluation-unknown-source"),
    pytest.param(evaluation("auto: "), False, id="evaluation-empty-criterion"),
    pytest.param(dataset(f", target_evaluation_ids: [{UUID}, {UUID}]"), False, id="evaluation-ids-repeated"),
    pytest.param(dataset(", target_concurrency: 65"), False, id="target-concurrency-cap"),
    pytest.param(suite(""), True, id="server-suite"),
    pytest.param(suite(", target: {command: x}"), False, id="server-suite-with-target"),
    pytest.param(suite(", suite_execution: client"), False, id="client-suite-without-target"),
    pytest.param(
        cekura_provider("{api_key: k, base_url: 'HTTP://LocalHost:8080/'}"), True, id="http-loopback"
    ),
    pytest.param(
        cekura_provider("{api_key: k, base_url: 'http://[::1]:8080'}"), True, id="http-ipv6-loopback"
    ),
    pytest.param(
        cekura_provider("{api_key: k, base_url: 'http://127.0.0.1.example.com'}"), False, id="http-remote"
    ),
    pytest.param(
        cekura_provider("{api_key: k, base_url: 'https://a.example?x=1'}"), False, id="base-url-query"
    ),
    pytest.param(
        cekura_provider("{api_key: k, base_url: 'http://10.0.0.1', allow_insecure_http: true}"),
        True,
        id="http-remote-allowed",
    ),
    pytest.param(cekura_provider("{base_url: ' simulator '}"), True, id="simulator-without-key"),
    pytest.param(cekura_provider("{base_url: '${CEKURA_URL:-simulator}'}"), True, id="base-url-from-env"),
    pytest.param(cekura_provider("null"), False, id="provider-null"),
    pytest.param(cekura_provider("{api_key: 'a b'}"), False, id="api-key-with-space"),
    pytest.param(
        cekura_provider("{api_key: '${CEKURA_API_KEY} ${CEKURA_API_KEY}'}"), False, id="api-key-two"
    ),
]


@pytest.mark.parametrize(("text", "accepted"), VALUES)
def test_the_schema_and_the_loader_agree_on_a_value(
    validator: Draft202012Validator, tmp_path: Path, text: str, accepted: bool
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    error = loader_error(path, {**ENV, "GATE_TIMEOUT": "", "CEKURA_URL": ""})
    assert (error is None) is accepted, error
    assert (schema_errors(validator, path) == []) is accepted


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_the_template_placeholders_are_the_loaders(
    validator: Draft202012Validator, tmp_path: Path, placeholder: str
) -> None:
    """Every placeholder the loader renders is accepted in a template; a near miss is not."""
    path = tmp_path / "c.yaml"
    for written, accepted in ((f"{{{placeholder}}}", True), (f"{{{placeholder}x}}", False)):
        path.write_text(dataset(f", test_run_name: '{written}'"), encoding="utf-8")
        assert (loader_error(path) is None) is accepted, written
        assert (schema_errors(validator, path) == []) is accepted, written


# --- the editor comment ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", example_configs(), ids=ids(ROOT))
def test_every_config_under_configs_points_editors_at_the_schema(path: Path) -> None:
    relative = Path(os.path.relpath(SCHEMA_PATH, path.parent)).as_posix()
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema={relative}"
