"""``${VAR}`` interpolation is substitution into *parsed scalar values*, never into the YAML text.

The file is parsed first; only then is each string scalar in value position expanded. So whatever an
environment variable holds — a line break followed by ``base_url: http://evil``, a flow mapping, an alias
``*anchor``, an anchor, a tag ``!!python/object/...``, a merge key ``<<``, a comment, a block scalar, or
another ``${VAR}`` — it becomes the characters of that one scalar and nothing else: it cannot add a key,
an item, a document, an object, or trigger a second expansion.

An *unquoted* scalar that contained a reference is typed again after expansion, as if its value had been
written there (``agent: ${AGENT_ID}`` is an integer). That re-typing can only give null, a boolean, an
integer or a float, and only when the whole value is one such literal on one line; everything else stays a
string (``12\\n``, ``true\\n``, ``=``, ``<<``, ``2024-01-01``). A quoted scalar always stays a string.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import load_config
from runner.errors import ConfigError
from runner.settings import DEFAULT_CEKURA_URL, CekuraGate, CommandTarget, FreeplayGate
from runner.yamlpos import Map, Node, Scalar, Seq, load

HOSTILE = [
    pytest.param("x\nbase_url: http://evil.example", id="newline-then-key"),
    pytest.param("x\r\nbase_url: http://evil.example", id="crlf-then-key"),
    pytest.param("{a: 1, b: [2, 3]}", id="flow-mapping"),
    pytest.param("[1, 2]", id="flow-sequence"),
    pytest.param("*anchor", id="alias"),
    pytest.param("&anchor x", id="anchor"),
    pytest.param("!!python/object/apply:os.system ['touch /tmp/pwned']", id="python-tag"),
    pytest.param("!custom x", id="local-tag"),
    pytest.param("<<", id="merge-key"),
    pytest.param("=", id="value-key"),
    pytest.param("- item\n- other", id="block-sequence"),
    pytest.param("? complex\n: key", id="complex-key"),
    pytest.param("|\n  block scalar", id="block-scalar"),
    pytest.param("key: value", id="colon-space"),
    pytest.param("x # comment", id="comment"),
    pytest.param("'quoted'", id="single-quotes"),
    pytest.param('"double"', id="double-quotes"),
    pytest.param("x\n---\ny: 1", id="document-separator"),
    pytest.param("${OTHER}", id="another-reference"),
    pytest.param("$${OTHER}", id="escaped-reference"),
    pytest.param("true\n", id="bool-then-newline"),
    pytest.param("12\n", id="int-then-newline"),
]

# Where a reference may stand: unquoted, quoted, as a block list item, inside a flow mapping (quoted).
DOCUMENTS = [
    pytest.param("a: ${X}\nb: 1\n", id="plain"),
    pytest.param("a: '${X}'\nb: 1\n", id="single-quoted"),
    pytest.param('a: "${X}"\nb: 1\n', id="double-quoted"),
    pytest.param("a:\n  - ${X}\nb: 1\n", id="block-item"),
    pytest.param('a: {k: "${X}"}\nb: 1\n', id="flow-mapping-value"),
    pytest.param("anchor: &anchor v\na: ${X}\nb: 1\n", id="next-to-an-anchor"),
]
ENV = {"OTHER": "expanded-twice"}


def shape(node: Node | None) -> object:
    """The structure of a document with every scalar replaced by its kind."""
    if isinstance(node, Map):
        return {key.text: shape(value) for key, value in node.entries}
    if isinstance(node, Seq):
        return [shape(item) for item in node.items]
    return "scalar"


def scalars(node: Node | None) -> list[Scalar]:
    if isinstance(node, Map):
        return [s for _, value in node.entries for s in scalars(value)]
    if isinstance(node, Seq):
        return [s for item in node.items for s in scalars(item)]
    return [node] if node is not None else []


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("value", HOSTILE)
def test_a_variable_is_one_scalar_whatever_it_holds(document: str, value: str) -> None:
    """Same structure as with a harmless value; the referencing scalar holds the value verbatim."""
    benign = load(document, file="c.yaml", env={**ENV, "X": "harmless"})
    loaded = load(document, file="c.yaml", env={**ENV, "X": value})
    assert shape(loaded) == shape(benign)
    (interpolated,) = [s for s in scalars(loaded) if s.variables]
    assert interpolated.variables == ("X",)
    assert interpolated.text == value  # no second expansion, nothing stripped or parsed
    assert interpolated.value == value  # none of these is a null, boolean or number literal


TYPED = [
    pytest.param("101", 101, id="int"),
    pytest.param("-7", -7, id="negative-int"),
    pytest.param("0x1F", 31, id="hex-int"),
    pytest.param("0.5", 0.5, id="float"),
    pytest.param("true", True, id="bool"),
    pytest.param("off", False, id="yaml11-bool"),
    pytest.param("", None, id="empty-is-null"),
    pytest.param("~", None, id="tilde-is-null"),
    pytest.param("12\n", "12\n", id="int-then-newline-is-text"),
    pytest.param("true\n", "true\n", id="bool-then-newline-is-text"),
    pytest.param("~\n", "~\n", id="null-then-newline-is-text"),
    pytest.param("1.5\r", "1.5\r", id="float-then-cr-is-text"),
    pytest.param("=", "=", id="value-tag-is-text"),
    pytest.param("<<", "<<", id="merge-tag-is-text"),
    pytest.param("2024-01-01", "2024-01-01", id="timestamp-is-text"),
    pytest.param("12 apples", "12 apples", id="mixed-is-text"),
]


@pytest.mark.parametrize(("value", "expected"), TYPED)
def test_an_unquoted_reference_is_retyped_only_as_a_single_literal(value: str, expected: object) -> None:
    """Re-typing yields null, bool, int or float — or the text itself; never an error, a list, a mapping."""
    root = load("a: ${X}\n", file="c.yaml", env={"X": value})
    assert isinstance(root, Map)
    (_, node) = root.entries[0]
    assert isinstance(node, Scalar)
    assert node.value == expected and type(node.value) is type(expected)


@pytest.mark.parametrize("value", ["12", "true", "", "x\ny: 1"], ids=["int", "bool", "empty", "newline"])
def test_a_quoted_reference_always_stays_a_string(value: str) -> None:
    root = load('a: "${X}"\n', file="c.yaml", env={"X": value})
    assert isinstance(root, Map)
    (_, node) = root.entries[0]
    assert isinstance(node, Scalar) and node.value == value


CONFIG = """version: 1
providers:
  cekura:
    api_key: ${CEKURA_API_KEY}
  freeplay:
    api_key: ${FREEPLAY_API_KEY}
gates:
  - name: smoke
    agent: 101
    tags:
      - ${TAG}
  - name: qa
    provider: freeplay
    project: 0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f
    dataset: ${DATASET}
    target:
      command: [python3, agent.py]
      env:
        MODE: ${MODE}
"""


@pytest.mark.parametrize("value", HOSTILE)
def test_a_config_keeps_its_shape_whatever_the_environment_holds(tmp_path: Path, value: str) -> None:
    """A hostile value in a tag, a dataset name or a target's env cannot set a base_url, add a gate, a tag,
    an environment variable of the target, or a provider."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    env = {"CEKURA_API_KEY": "k1", "FREEPLAY_API_KEY": "k2", "TAG": value, "DATASET": value}
    config = load_config(str(cfg), {**env, "MODE": value, "OTHER": "expanded-twice"})
    assert config.cekura is not None and config.cekura.base_url == DEFAULT_CEKURA_URL
    assert [gate.name for gate in config.gates] == ["smoke", "qa"]
    smoke, qa = config.gates
    assert isinstance(smoke, CekuraGate) and smoke.tags == (value,)
    assert isinstance(qa, FreeplayGate) and qa.dataset == value
    assert isinstance(qa.target, CommandTarget) and qa.target.env == (("MODE", value),)


def test_a_python_tag_written_in_the_file_is_refused_but_from_the_environment_is_only_text(
    tmp_path: Path,
) -> None:
    """Tags are resolved when the file is parsed, before interpolation: a tag in the file is an error; the
    same characters from a variable are a string and never construct anything."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(CONFIG.replace("- ${TAG}", "- !!python/object/apply:os.getcwd []"), encoding="utf-8")
    env = {"CEKURA_API_KEY": "k", "FREEPLAY_API_KEY": "k", "DATASET": "d", "MODE": "m"}
    with pytest.raises(ConfigError, match=r"the YAML tag '!!python/object/apply:os.getcwd' is not allowed"):
        load_config(str(cfg), {**env, "TAG": "t"})
    cfg.write_text(CONFIG, encoding="utf-8")
    config = load_config(str(cfg), {**env, "TAG": "!!python/object/apply:os.getcwd []"})
    assert isinstance(config.gates[0], CekuraGate)
    assert config.gates[0].tags == ("!!python/object/apply:os.getcwd []",)


BAD_KEYS = [
    pytest.param("canary-KEY\nbase_url: http://evil.example", id="line-break"),
    pytest.param("canary-KEY\x00x", id="nul"),
    pytest.param("canary-KEY x", id="inner-space"),
    pytest.param("canary-KEY-é", id="non-ascii"),
    pytest.param("canary-KEY\u200b", id="zero-width-space"),
]


@pytest.mark.parametrize("value", BAD_KEYS)
def test_an_api_key_that_cannot_be_a_header_value_is_refused_without_being_shown(
    tmp_path: Path, value: str
) -> None:
    """The key travels in an HTTP header, and the HTTP library's own error would quote it: refuse it at load
    time, with a message that names the variable and never the value (nor the offending character)."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(
        "version: 1\nproviders:\n  cekura:\n    api_key: ${CEKURA_API_KEY}\n"
        "gates: [{name: a, agent: 1, scenarios: [1]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(str(cfg), {"CEKURA_API_KEY": value})
    error = caught.value
    assert (str(error), error.hint) == (
        f"{cfg}:4: providers.cekura.api_key: api_key must be one line of visible ASCII characters"
        " (no spaces, line breaks or control characters)",
        "check CEKURA_API_KEY: copy the Cekura API key again, without extra characters",
    )
    assert "canary" not in repr(error) + str(error.hint)


def test_surrounding_whitespace_of_an_api_key_is_dropped(tmp_path: Path) -> None:
    """A trailing line break (a key read from a file) is not part of the key."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(
        "version: 1\nproviders:\n  cekura:\n    api_key: ${CEKURA_API_KEY}\n"
        "gates: [{name: a, agent: 1, scenarios: [1]}]\n",
        encoding="utf-8",
    )
    config = load_config(str(cfg), {"CEKURA_API_KEY": "  the-key\n"})
    assert config.cekura is not None and config.cekura.api_key.reveal() == "the-key"


PLAIN = "plainvalue-7c1e90"  # not named like a secret, not in a secret's place
WRONG_FIELD = [
    pytest.param(
        "thresholds: {success_rate: '${PLAIN}'}",
        "gates[0].thresholds.success_rate: expected a rate such as '>= 90%' or 0.9, found '${PLAIN}'",
        id="threshold-expression",
    ),
    pytest.param(
        "thresholds: {metrics: {Latency: '${PLAIN}'}}",
        "gates[0].thresholds.metrics.Latency: unknown aggregate '***'",
        id="metric-check-quotes-a-word",
    ),
    pytest.param(
        "mode: json, spec: '${PLAIN}'", "gates[0].spec: spec file '${PLAIN}' not found", id="spec-path"
    ),
]


@pytest.mark.parametrize(("fields", "message"), WRONG_FIELD)
def test_any_environment_value_a_message_would_quote_is_shown_as_written(
    tmp_path: Path, fields: str, message: str
) -> None:
    """Not only keys: whatever value from the environment a message is about is shown as ``${VAR}`` (and a
    word a parser quoted from it as ``***``), in the message and in the hint."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(
        "version: 1\nproviders: {cekura: {base_url: simulator}}\n"
        f"gates:\n  - {{name: a, agent: 1, scenarios: [1], {fields}}}\n".replace(
            "scenarios: [1], mode", "mode"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(str(cfg), {"PLAIN": PLAIN})
    assert str(caught.value) == f"{cfg}:4: {message}"
    assert "plainvalue" not in f"{caught.value!r} {caught.value.hint}" and "7c1e90" not in str(
        caught.value.hint
    )
