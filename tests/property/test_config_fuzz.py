"""Any config file: ``load_config`` returns a ``Config`` or raises one located ``ConfigError``, nothing else.

The loader is the first thing regate runs, on a file a user is editing. Whatever that file holds -- random
bytes, random Unicode, YAML of any shape, a valid config with keys dropped, renamed or duplicated, values of
the wrong type, ``${VAR}`` references anywhere, huge strings, deep nesting -- the result is a ``Config`` or
a ``ConfigError`` that reads ``<file>:<line>: <key path>: <message>`` (the line and key path when known),
a message that never shows the value of an environment variable (the API key is one, and a message lands in
a CI log). Never a traceback (exit 4 instead of 2).

The bugs these properties found are pinned by the named regression tests at the end (absurd nesting,
integers beyond Python's digit limit, durations beyond float range, NUL in paths, NaN rates); the broad
properties keep their input sizes modest (``SAFE_DEPTH``, ``SAFE_INT_DIGITS``) to stay fast.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.config import load_config
from runner.errors import ConfigError
from runner.settings import CekuraGate, Config, FreeplayGate, FreeplayMode
from tests.property.strategies import FRAGMENTS, PROFILE, hostile_text, nested

VALID = Path(__file__).resolve().parents[1] / "data" / "configs" / "valid"

# Environment values a message must never show. The mark is what is searched for, so that a partial leak
# (the first word of a secret, say) counts too.
MARK = "7f3a9c1e"
SECRETS = {
    "CANARY": f"sk_live_{MARK}",  # one word: a threshold parser reads it as an aggregate name
    "CANARY_SPACED": f"sk live/{MARK}==",  # invalid as any name, path-like
    "CEKURA_API_KEY": f"ck-{MARK}-cekura",
    "FREEPLAY_API_KEY": f"fp-{MARK}-freeplay",
}
ENV = {**SECRETS, "AGENT_ID": "55", "EMPTY_KEY": "", "PORT": "8080", "DURATION": "5m"}

# Until the bugs pinned below are fixed: deeper YAML overflows the composer's recursion
# (test_deep_nesting_is_a_config_error); integers of more than 308 digits overflow a float duration
# (test_durations_beyond_float_range_are_config_errors) and of more than 4300 digits int() itself
# (test_integers_python_cannot_read_are_config_errors); so do long digit strings as durations
# (test_an_infinite_duration_is_a_config_error), which is why "huge" values are never made of digits.
SAFE_DEPTH = 40
SAFE_INT_DIGITS = 300


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the valid corpus (with its worlds/ and specs/), where fuzzed files are written so that
    their relative paths resolve as in the originals."""
    directory = tmp_path_factory.mktemp("config-fuzz") / "valid"
    shutil.copytree(VALID, directory)
    return directory


def load(directory: Path, content: str | bytes) -> Config | ConfigError:
    """Write ``content`` as ``fuzz.yaml`` in ``directory`` (text as UTF-8, lone surrogates as the invalid
    bytes a bad editor would write) and load it: the Config, or the ConfigError. Anything else propagates."""
    path = directory / "fuzz.yaml"
    data = content if isinstance(content, bytes) else content.encode("utf-8", errors="surrogatepass")
    path.write_bytes(data)
    try:
        return load_config(str(path), ENV)
    except ConfigError as exc:
        return exc


def assert_located(outcome: Config | ConfigError, directory: Path, *, leaks_allowed: bool = False) -> None:
    """A Config with sane settings, or a ConfigError of the documented shape that shows no secret."""
    if isinstance(outcome, Config):
        assert_sane(outcome)
        return
    path = str(directory / "fuzz.yaml")
    text = str(outcome)
    # A spec file's own syntax error names the spec file; everything else names the config.
    assert outcome.file == path or outcome.file.startswith(str(directory)), outcome.file
    location = outcome.file if outcome.line is None else f"{outcome.file}:{outcome.line}"
    assert text.startswith(f"{location}: "), text[:300]
    if outcome.line is not None:
        assert outcome.line >= 1
    if outcome.key:
        assert text.startswith(f"{location}: {outcome.key}: ")
    assert outcome.detail.strip(), "an error says what is wrong"
    # (Not asserted: one line. A key path quotes keys as written, "\r" included; the CLI prints every
    # message through one_line() and escape_workflow_command(), which is where "one line" is kept.)
    if not leaks_allowed:
        assert MARK not in text, text[:300]
        assert MARK not in (outcome.hint or ""), outcome.hint


def assert_sane(config: Config) -> None:
    """A config that loads has finite, positive durations and at least one gate (never vacuous)."""
    d = config.defaults
    durations = [d.timeout, d.request_timeout, d.poll.initial, d.poll.maximum, d.poll.heartbeat]
    durations += [d.retry.base, d.retry.maximum, d.retry.max_retry_after]
    durations += [gate.timeout for gate in config.gates]
    if d.overall_timeout is not None:
        durations.append(d.overall_timeout)
    assert all(math.isfinite(s) and s > 0 for s in durations), durations
    assert config.gates
    for gate in config.gates:
        assert isinstance(gate, CekuraGate | FreeplayGate)
        server_suite = isinstance(gate, FreeplayGate) and gate.mode is FreeplayMode.SUITE
        assert server_suite or not gate.thresholds.is_empty, "a gate without checks never passes vacuously"


# --- random bytes and text ------------------------------------------------------------------------------


@settings(PROFILE, max_examples=60)
@given(content=st.binary(max_size=300))
@example(content=b"\xff\xfe\x00v\x00e\x00r")  # UTF-16
@example(content=b"version: 1\ngates: [\x00]")
@example(content=b"\xef\xbb\xbfversion: 1\n")  # BOM
def test_random_bytes_are_a_located_error(corpus: Path, content: bytes) -> None:
    """Random bytes (binary files, other encodings, control characters) load or are one ConfigError."""
    assert_located(load(corpus, content), corpus)


@settings(PROFILE, max_examples=60)
@given(content=st.one_of(hostile_text(200), st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("\n".join)))
@example(content="version: 1\n\ud800: x")
@example(content="version: 1\ngates:\n\t- name: a")
@example(content="%YAML 1.1\n---\nversion: 1\n...\n---\n")
def test_random_text_is_a_located_error(corpus: Path, content: str) -> None:
    """Random Unicode (lone surrogates written as invalid UTF-8, tabs, BOMs, YAML directives) loads or is
    one located ConfigError."""
    assert_located(load(corpus, content), corpus)


# --- generated YAML documents ---------------------------------------------------------------------------

TOP_KEYS = ("version", "simulator", "providers", "defaults", "gates", "x-common")
KEYS = (
    *TOP_KEYS, "cekura", "freeplay", "base_url", "api_key", "world", "speed", "seed", "faults", "timeout",
    "overall_timeout", "request_timeout", "concurrency", "poll", "retry", "thresholds", "initial", "max",
    "multiplier", "heartbeat", "attempts", "base", "budget", "max_retry_after", "name", "provider", "agent",
    "mode", "scenarios", "tags", "folder", "project", "frequency", "personalities", "test_profiles",
    "concurrency_limit", "mock_tool_names", "websocket_url", "websocket_headers", "elevenlabs_agent_id",
    "sip_endpoint", "retell_agent_id", "vapi_assistant_id", "agent_email", "spec", "channel", "id",
    "pipecat_room_url", "dataset", "suite", "suite_execution", "include_outputs", "target_evaluation_ids",
    "test_run_name", "description", "target", "command", "url", "cwd", "env", "headers", "environment",
    "target_concurrency", "success_rate", "max_failed_runs", "max_infra_errors", "metrics", "evaluations",
    "max_target_errors", "flavor_name",
)  # fmt: skip
REFERENCES = (
    "${CANARY}", "${CANARY_SPACED}", "${CEKURA_API_KEY}", "${FREEPLAY_API_KEY}", "${UNSET}", "${UNSET:-5m}",
    "${EMPTY_KEY}", "${EMPTY_KEY:-7}", "${AGENT_ID}", "${ bad }", "${", "${}", "$${CANARY}", "$$",
    "pre-${CANARY}-post", "${CANARY:-x}", "${CANARY_SPACED}/x", "http://${CANARY}@h", "${AGENT_ID}${CANARY}",
)  # fmt: skip
WORDS = (
    "250ms", "30s", "5m", "1h30m", "0s", "-5s", "1h1h", "10 minutes", ".5s", "1.5s", ">= 90%", "90", "0.9",
    "p50 <= 2000", "rate(a) >= 1%", "mean >= 4", ">= 101%", "https://api.cekura.ai", "http://127.0.0.1:8080",
    "http://example.com", "simulator", "simulatr", "ftp://x", "https://u:p@h", "https://h/?q#f", "https://[::1",
    "https://h:99999", "worlds/tiny.yaml", "specs/suite.json", "specs/suite.yaml", "missing.json", ".", "..",
    "/", "voice", "text", "json", "websocket", "vapi", "server", "client", "a@b.c", "smoke", "a b",
    "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f", "{gate} {sha}", "{", "}", "{nope}", "results:429=2@0.1", "~",
    "yes", "no", "on", "0x1F", "0o17", "1_000", "1:30", "2026-01-01", ".inf", ".nan", "!!python/object",
)  # fmt: skip
yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**SAFE_INT_DIGITS), max_value=10**SAFE_INT_DIGITS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.sampled_from(REFERENCES),
    st.uuids().map(str),
    hostile_text(),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), hostile_text(8)), children, max_size=5),
    ),
    max_leaves=20,
)
gate_skeletons = st.one_of(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(("smoke", "a.b-c_d")),
            "agent": st.integers(-1, 99),
            "scenarios": st.lists(st.integers(-1, 99), max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            "name": st.just("qa"),
            "provider": st.just("freeplay"),
            "project": st.just("0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f"),
            "dataset": st.just("golden"),
            "target": st.fixed_dictionaries({"command": st.just(["python", "a.py"])}),
        }
    ),
)
gates = st.builds(
    lambda skeleton, extra: {**skeleton, **extra},
    gate_skeletons,
    st.dictionaries(st.sampled_from(KEYS), yaml_values, max_size=4),
)
PROVIDERS = {"cekura": {"base_url": "simulator"}, "freeplay": {"base_url": "simulator"}}
config_like = st.fixed_dictionaries(
    {
        "version": st.sampled_from((1, 1, 1, 1, 1, 1, "1", 2, None, 1.0, True)),
        "providers": st.one_of(
            st.just(PROVIDERS),
            st.fixed_dictionaries({"cekura": st.fixed_dictionaries({"base_url": st.sampled_from(WORDS)})}),
            st.fixed_dictionaries(
                {"cekura": st.fixed_dictionaries({"api_key": st.sampled_from(REFERENCES)})}
            ),
            yaml_values,
        ),
        "gates": st.one_of(st.lists(gates, min_size=1, max_size=3), st.lists(gates, max_size=3), yaml_values),
    },
    optional={
        "simulator": st.dictionaries(st.sampled_from(KEYS), yaml_values, max_size=3),
        "defaults": st.dictionaries(st.sampled_from(KEYS), yaml_values, max_size=4),
        "x-common": yaml_values,
    },
)


@st.composite
def dumped(draw: st.DrawFn, document: Any) -> str:
    """``document`` as YAML in a drawn style: block or flow, escaped or raw Unicode, wrapped or not."""
    return yaml.safe_dump(
        document,
        default_flow_style=draw(st.sampled_from((False, True, None))),
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
        width=draw(st.sampled_from((80, 10**6))),
    )


@settings(PROFILE, max_examples=120)
@given(text=st.one_of(config_like, config_like, config_like, yaml_values).flatmap(dumped))
def test_generated_documents_load_or_are_a_located_error(corpus: Path, text: str) -> None:
    """YAML documents of any shape (config-like or not, any value types, ``${VAR}`` anywhere) load or are
    one located ConfigError."""
    assert_located(load(corpus, text), corpus)


# --- mutations of the valid corpus ----------------------------------------------------------------------

CORPUS_FILES = sorted(p.name for p in VALID.glob("*.yaml"))


def positions(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every (path to container, key or index) in a plain YAML document, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from positions(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from positions(value, (*path, index))


def parent_of(document: Any, position: tuple[Any, ...]) -> Any:
    node = document
    for step in position[:-1]:
        node = node[step]
    return node


def typo(key: str) -> st.SearchStrategy[str]:
    """A key as it gets mistyped: a letter dropped, doubled or swapped, case changed, or something else."""
    return st.one_of(
        st.integers(0, max(len(key) - 1, 0)).map(lambda i: key[:i] + key[i + 1 :]),
        st.integers(0, max(len(key) - 1, 0)).map(lambda i: key[:i] + key[i : i + 1] * 2 + key[i + 1 :]),
        st.just(key.upper()),
        st.just(key.replace("_", "-")),
        hostile_text(10),
    )


@st.composite
def mutated_corpus(draw: st.DrawFn) -> str:
    """A valid corpus file, mutated structurally (then dumped) and/or textually (keeping anchors and
    comments, and able to duplicate keys, which a plain mapping cannot hold)."""
    name = draw(st.sampled_from(CORPUS_FILES))
    text = (VALID / name).read_text(encoding="utf-8")
    if draw(st.booleans()):
        document = yaml.safe_load(text)
        for _ in range(draw(st.integers(1, 4))):
            found = list(positions(document))
            if not found:
                break
            position = draw(st.sampled_from(found))
            parent, key = parent_of(document, position), position[-1]
            action = draw(st.sampled_from(("drop", "rename", "retype", "reference", "huge", "nest")))
            if action == "drop":
                del parent[key]
            elif action == "rename" and isinstance(parent, dict):
                parent[draw(typo(str(key)))] = parent.pop(key)
            elif action == "retype":
                parent[key] = draw(yaml_values)
            elif action == "reference":
                parent[key] = draw(st.sampled_from(REFERENCES))
            elif action == "huge":
                unit = draw(st.sampled_from(("x", "é", "🎉", "${CANARY}", " ", "\\")))
                parent[key] = unit * draw(st.integers(1_000, 100_000))
            elif action == "nest":
                parent[key] = nested(
                    draw(st.integers(1, SAFE_DEPTH)), parent[key], as_dict=draw(st.booleans())
                )
        text = draw(dumped(document))
    lines = text.split("\n")
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3)))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(("duplicate", "delete", "indent", "insert", "truncate")))
        if action == "duplicate":  # a duplicate key, when the line is "key: value"
            lines.insert(index, lines[index])
        elif action == "delete":
            del lines[index]
        elif action == "indent":
            lines[index] = draw(st.sampled_from(("\t", " ", "   "))) + lines[index]
        elif action == "insert":
            at = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:at] + draw(st.sampled_from(FRAGMENTS)) + lines[index][at:]
        else:
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
            del lines[index + 1 :]
        if not lines:
            lines = [""]
    return "\n".join(lines)


@settings(PROFILE, max_examples=100)
@given(text=mutated_corpus())
def test_mutated_valid_configs_load_or_are_a_located_error(corpus: Path, text: str) -> None:
    """A valid config with keys dropped, renamed (typos) or duplicated, values retyped, replaced by
    ``${VAR}`` references, made huge or nested deeply, lines deleted, indented or cut: a Config with sane
    settings, or one located ConfigError that shows no environment value."""
    assert_located(load(corpus, text), corpus)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_the_unmutated_corpus_loads(corpus: Path, name: str) -> None:
    """The corpus the mutations start from is valid under the fuzz environment: a mutation, not the
    environment, is what makes a mutated file fail."""
    outcome = load(corpus, (VALID / name).read_text(encoding="utf-8"))
    assert isinstance(outcome, Config), outcome


# --- secrets --------------------------------------------------------------------------------------------


def value_spans(text: str) -> Iterator[tuple[int, int]]:
    """The character span of every scalar value (not key) in a YAML document."""
    stack = [yaml.compose(text, Loader=yaml.SafeLoader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            yield node.start_mark.index, node.end_mark.index
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for _, value in node.value)


def test_no_corpus_value_replaced_by_a_secret_leaks_it(corpus: Path) -> None:
    """Every scalar value of every valid corpus file, replaced in turn by ``"${CANARY}"`` and by
    ``"${CANARY_SPACED}"``: no resulting error shows the variable's value, in its message or its hint."""
    leaks = []
    for name in CORPUS_FILES:
        text = (VALID / name).read_text(encoding="utf-8")
        for start, end in value_spans(text):
            for variable in ("CANARY", "CANARY_SPACED"):
                outcome = load(corpus, f'{text[:start]}"${{{variable}}}"{text[end:]}')
                if isinstance(outcome, ConfigError):
                    assert_located(outcome, corpus, leaks_allowed=True)
                    shown = f"{outcome} (hint: {outcome.hint})"
                    if MARK in shown:
                        leaks.append(f"{name} {outcome.key}: {shown.replace(str(corpus), '<corpus>')}")
    assert not leaks, f"{len(leaks)} messages show an environment value:\n" + "\n".join(leaks)


ONE_GATE = "gates:\n  - {name: a, agent: 1, scenarios: [1], %s}"
LEAK_CASES = {
    "threshold-expression": ONE_GATE % "thresholds: {success_rate: '${CANARY}'}",
    "metric-check": ONE_GATE % "thresholds: {metrics: {x: '${CANARY}'}}",
    "count-limit": ONE_GATE % "thresholds: {max_failed_runs: '${CANARY}'}",
    "world-hint": "simulator: {world: '${CANARY}'}\n" + ONE_GATE % "frequency: 1",
    "spec-path": "gates:\n  - {name: a, agent: 1, mode: json, spec: '${CANARY}'}",
}


@pytest.mark.parametrize("body", LEAK_CASES.values(), ids=LEAK_CASES.keys())
def test_values_that_used_to_leak_are_masked(corpus: Path, body: str) -> None:
    """The smallest configs whose error once showed ``$CANARY``'s value (a threshold parser quoting the
    word it stumbled on, the resolved path in a hint) show it no more, in message or hint."""
    outcome = load(corpus, f"version: 1\nproviders: {{cekura: {{base_url: simulator}}}}\n{body}\n")
    assert isinstance(outcome, ConfigError)
    assert MARK not in f"{outcome} {outcome.hint}"


def test_the_leak_check_sees_a_value_where_one_is_shown(corpus: Path) -> None:
    """The leak check is not vacuous: the same text written literally (not from the environment) is
    quoted in the message, as designed, and the mark is found; from the environment it is not."""
    body = "gates:\n  - {name: a, agent: '%s', scenarios: [1]}\n"
    literal = load(corpus, SIM + body % SECRETS["CANARY"])
    assert isinstance(literal, ConfigError) and MARK in str(literal)
    from_env = load(corpus, SIM + body % "${CANARY}")
    assert isinstance(from_env, ConfigError) and MARK not in str(from_env)
    assert "${CANARY}" in str(from_env), "shown as written"


# --- known bugs -----------------------------------------------------------------------------------------

SIM = "version: 1\nproviders: {cekura: {base_url: simulator}}\n"
GATE = "  - {name: a, agent: 1, scenarios: [1]}\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 1000 + "]" * 1000, id="flow-lists"),
        pytest.param(SIM + "gates: " + "[" * 1000 + "]" * 1000 + "\n", id="gates-flow-lists"),
        pytest.param("".join(" " * i + "a:\n" for i in range(1000)), id="block-mappings"),
    ],
)
def test_deep_nesting_is_a_config_error(corpus: Path, text: str) -> None:
    """Nesting a thousand levels deep is a located ConfigError ("nested too deeply"), not a RecursionError."""
    assert_located(load(corpus, text), corpus)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("version: " + "1" * 4301 + "\n", id="version"),
        pytest.param(SIM + "gates:\n  - {name: a, agent: " + "1" * 4301 + ", scenarios: [1]}\n", id="agent"),
    ],
)
def test_integers_python_cannot_read_are_config_errors(corpus: Path, text: str) -> None:
    """An integer of 4301 digits is "too large", a located ConfigError."""
    assert_located(load(corpus, text), corpus)


@pytest.mark.parametrize(
    "defaults",
    [
        pytest.param("{timeout: 1" + "0" * 400 + "}", id="integer-seconds"),
        pytest.param("{poll: {initial: 1" + "0" * 400 + "s}}", id="infinite-initial-vs-max"),
    ],
)
def test_durations_beyond_float_range_are_config_errors(corpus: Path, defaults: str) -> None:
    """A duration too large for a float is a located ConfigError, not an OverflowError."""
    assert_located(load(corpus, f"{SIM}defaults: {defaults}\ngates:\n{GATE}"), corpus)


def test_an_infinite_duration_is_a_config_error(corpus: Path) -> None:
    """``timeout: 1000…0s`` (beyond float range) is rejected, not an infinite deadline."""
    outcome = load(
        corpus, f"{SIM}gates:\n  - {{name: a, agent: 1, scenarios: [1], timeout: 1{'0' * 400}s}}\n"
    )
    assert isinstance(outcome, ConfigError), outcome


def test_a_spec_path_with_nul_is_a_config_error(corpus: Path) -> None:
    """``spec: "a\\0b.json"`` is a located ConfigError."""
    assert_located(
        load(corpus, f'{SIM}gates:\n  - {{name: a, agent: 1, mode: json, spec: "a\\0b.json"}}\n'), corpus
    )


def test_a_nan_rate_in_a_config_is_a_config_error(corpus: Path) -> None:
    """``success_rate: .nan`` is a located ConfigError, not a gate that can never pass."""
    outcome = load(
        corpus,
        f"{SIM}gates:\n  - {{name: a, agent: 1, scenarios: [1], thresholds: {{success_rate: .nan}}}}\n",
    )
    assert isinstance(outcome, ConfigError), outcome


def test_error_lines_point_into_the_file(corpus: Path) -> None:
    """Sanity of the location check: a typo on line 4 is reported on line 4, key path included."""
    outcome = load(corpus, f"{SIM}gates:\n  - {{name: a, agnet: 1, scenarios: [1]}}\n")
    assert isinstance(outcome, ConfigError)
    assert re.match(
        rf"{re.escape(str(corpus / 'fuzz.yaml'))}:4: gates\[0\]: unknown key 'agnet'", str(outcome)
    )
