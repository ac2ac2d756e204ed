"""Position-aware safe YAML: like ``yaml.safe_load``, but every value remembers its line.

The document is composed with ``yaml.SafeLoader`` (standard tags only: a ``!!python/...`` or ``!custom``
tag is an error, never an object) and turned into ``Scalar``/``Seq``/``Map`` nodes. On the way:

- duplicate keys are errors naming both lines (YAML would silently keep the last one);
- merge keys (``<<: *defaults``) and aliases work; a key written in the mapping wins over a merged one;
- environment variables are interpolated in string scalars in value position (never in keys):
  ``${VAR}``, ``${VAR:-default}`` (the default applies when VAR is unset *or empty*, as in the shell) and
  ``$$`` for a literal ``$``; a ``$`` followed by anything else stays as written. Nothing else is expanded.
  An unquoted scalar that contained a reference is resolved again after interpolation, exactly as if its
  value had been written there: ``agent: ${AGENT_ID}`` with ``AGENT_ID=101`` is the integer 101, and
  ``faults: ${FAULTS:-}`` with FAULTS unset is null. A quoted scalar always stays a string. Interpolation
  cannot inject structure: substitution happens in the parsed scalar, never in the YAML text, so a
  variable's value is only ever one scalar. The re-resolution can only make it null, a boolean, an integer
  or a float, and only when the whole value is one such literal on one line (``12\\n`` stays a string);
  anything else a YAML resolver might see in it (``=``, ``<<``, a date) is a string too.

Errors are ``ConfigError`` with file, line and key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from runner.errors import ConfigError

ScalarValue = str | int | float | bool | None

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MERGE, _SEQ, _MAP = (_TAG + t for t in ("timestamp", "merge", "seq", "map"))
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NODES = 100_000  # an alias "billion laughs" must not expand forever


@dataclass(frozen=True, slots=True, eq=False)
class Scalar:
    value: ScalarValue  # the resolved value (after interpolation)
    text: str  # the scalar's characters after interpolation ("" for an empty value)
    line: int  # 1-based
    source: str  # the characters as written, before interpolation
    variables: tuple[str, ...] = ()  # environment variables it referenced

    @property
    def interpolated(self) -> bool:
        return bool(self.variables)


@dataclass(frozen=True, slots=True, eq=False)
class Seq:
    items: tuple[Node, ...]
    line: int


@dataclass(frozen=True, slots=True, eq=False)
class Map:
    """A mapping; keys are the key scalars' texts (``12:`` -> ``"12"``), in document order."""

    entries: tuple[tuple[Scalar, Node], ...]
    line: int

    def keys(self) -> list[str]:
        return [key.text for key, _ in self.entries]


Node = Scalar | Seq | Map


def join(path: str, key: str) -> str:
    """``join("gates[0]", "agent")`` -> ``"gates[0].agent"``; the root path is ``""``."""
    return f"{path}.{key}" if path else key


def to_plain(node: Node) -> object:
    """The plain Python value of a node (what ``yaml.safe_load`` would give, keys as text)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Seq):
        return [to_plain(item) for item in node.items]
    return {key.text: to_plain(value) for key, value in node.entries}


def load(text: str, *, file: str, env: Mapping[str, str], interpolate: bool = True) -> Node | None:
    """Parse one YAML document; ``None`` for an empty document (only comments or nothing)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return None
        return _Builder(file, env, interpolate).build(root, "")
    except RecursionError:
        raise ConfigError(
            "the YAML nests too deeply", file=file, hint="a config needs only a few levels of nesting"
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from exc
    except yaml.YAMLError as exc:  # ReaderError: a control character or other unreadable input
        line = text[: getattr(exc, "position", 0)].count("\n") + 1
        raise ConfigError(
            f"invalid YAML: {getattr(exc, 'reason', 'unreadable input')}",
            file=file,
            line=line,
            hint="remove control characters from the file",
        ) from exc


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if exc.context and exc.problem and not exc.context.startswith("while"):
        problem = f"{exc.context}, {exc.problem}"
    message = f"invalid YAML: {problem}" + (f" (column {mark.column + 1})" if mark else "")
    if (
        ("<stream end>" in problem or "end of stream" in problem) and exc.context and exc.context_mark
    ):  # point at what was left open
        mark = exc.context_mark
        what = exc.context.removeprefix("while parsing a ").removeprefix("while scanning a ")
        message = f"invalid YAML: the {what} starting at column {mark.column + 1} never ends ({problem})"
    line = mark.line + 1 if mark else None
    if "'\\t'" in problem:
        hint = "indent with spaces: YAML does not allow tabs"
    elif "chomping or indentation" in problem:
        hint = "quote values that start with '>' or '|', e.g. \">= 90%\""
    elif "'{'" in problem and "flow" in (exc.context or ""):
        hint = 'inside [ ] or { }, quote ${VAR} references: ["${VAR}"]'
    elif "single document" in problem:
        hint = "a config is one YAML document: remove the '---' separator"
    else:
        hint = "check the indentation; quote values that contain ': ' or start with [ ] { } > | * & ! % @ `"
    return ConfigError(message, file=file, line=line, hint=hint)


def _show_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class _Builder:
    def __init__(self, file: str, env: Mapping[str, str], interpolate: bool) -> None:
        self.file = file
        self.env = env
        self.interpolate = interpolate
        self.count = 0
        self.active: set[int] = set()  # nodes being built: an alias back into one of them is recursive
        self.constructor = SafeConstructor()
        self.resolver = Resolver()

    def fail(self, node: yaml.Node, path: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            message, file=self.file, line=node.start_mark.line + 1, key=path or None, hint=hint
        )

    def build(self, node: yaml.Node, path: str) -> Node:
        self.count += 1
        if self.count > _MAX_NODES:
            raise self.fail(node, path, f"YAML aliases expand the document beyond {_MAX_NODES} values")
        if id(node) in self.active:
            raise self.fail(node, path, "a YAML alias refers to a node that contains it")
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path, value_position=True)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
                return Seq(tuple(self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)), line)
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
                return Map(tuple(self.mapping(node, path).values()), line)
        finally:
            self.active.discard(id(node))
        raise self.fail(
            node,
            path,
            f"the YAML tag {_show_tag(node.tag)!r} is not allowed",
            hint="only plain mappings, lists and scalars are allowed; quote the value if '!' is part of it",
        )

    def mapping(self, node: yaml.MappingNode, path: str) -> dict[str, tuple[Scalar, Node]]:
        own: dict[str, tuple[Scalar, Node]] = {}
        merged: dict[str, tuple[Scalar, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, path, "a key must be a plain scalar, not a list or a mapping")
            if key_node.tag == _MERGE:
                for name, entry in self.merge_sources(value_node, path).items():
                    merged.setdefault(name, entry)
                continue
            key = self.scalar(key_node, path, value_position=False)
            if key.text in own:
                first = own[key.text][0].line
                raise self.fail(
                    key_node,
                    join(path, key.text),
                    f"duplicate key {key.text!r} (first on line {first})",
                    hint="YAML would silently keep only the last one: remove or rename one of them",
                )
            own[key.text] = (key, self.build(value_node, join(path, key.text)))
        for name, entry in merged.items():
            own.setdefault(name, entry)
        return own

    def merge_sources(self, node: yaml.Node, path: str) -> dict[str, tuple[Scalar, Node]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, tuple[Scalar, Node]] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(source, path, "a merge key '<<' takes a mapping or a list of mappings")
            built = self.build(source, path)
            assert isinstance(built, Map)  # noqa: S101 (a MappingNode builds a Map)
            for key, value in built.entries:
                result.setdefault(key.text, (key, value))  # earlier sources win, as in YAML
        return result

    def scalar(self, node: yaml.ScalarNode, path: str, *, value_position: bool) -> Scalar:
        line = node.start_mark.line + 1
        raw: str = node.value
        variables: tuple[str, ...] = ()
        tag = node.tag
        if value_position and self.interpolate and tag == _STR and "$" in raw:
            text, variables = self.expand(raw, node, path)
            if text != raw and node.style is None:  # unquoted: resolve as if written
                tag = self.retype(text)
        else:
            text = raw
        return Scalar(self.construct(node, tag, text, path), text, line, raw, variables)

    def retype(self, text: str) -> str:
        """The tag of an interpolated unquoted value: null, bool, int or float when the whole text is one
        such literal, else str. The resolver's patterns end in ``$``, which also matches before a final
        line break (``true\\n`` would then reach the bool constructor and fail), so multi-line text is a
        string; tags such as ``!!value`` (``=``) or ``!!merge`` (``<<``) are strings too."""
        if any(ch in text for ch in "\n\r\x85\u2028\u2029"):
            return _STR
        tag: str = self.resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        return tag if tag in (_NULL, _BOOL, _INT, _FLOAT) else _STR

    def construct(self, node: yaml.ScalarNode, tag: str, text: str, path: str) -> ScalarValue:
        if tag in (_STR, _TIMESTAMP, _MERGE):  # a timestamp stays text: no config field is a date
            return text
        probe = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return bool(self.constructor.construct_yaml_bool(probe))
        if tag == _INT:
            try:
                return int(self.constructor.construct_yaml_int(probe))
            except ValueError:  # beyond Python's digit limit for int(): no config number is that long
                raise self.fail(
                    node, path, "this number is too long", hint="write a shorter number"
                ) from None
        if tag == _FLOAT:
            return float(self.constructor.construct_yaml_float(probe))
        raise self.fail(
            node,
            path,
            f"the YAML tag {_show_tag(tag)!r} is not allowed",
            hint="only strings, numbers, booleans and null are allowed; quote the value if '!' is part of it",
        )

    def expand(self, raw: str, node: yaml.ScalarNode, path: str) -> tuple[str, tuple[str, ...]]:
        out: list[str] = []
        names: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "$" or i + 1 >= len(raw) or raw[i + 1] not in "${":
                out.append(ch)
                i += 1
                continue
            if raw[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            end = raw.find("}", i + 2)
            if end < 0:
                raise self.fail(
                    node,
                    path,
                    "unclosed '${' in a value",
                    hint="write ${VAR} or ${VAR:-default}; $$ is a '$'",
                )
            inner = raw[i + 2 : end]
            name, sep, default = inner.partition(":-")
            if not _VAR_NAME.fullmatch(name):
                raise self.fail(
                    node,
                    path,
                    f"bad variable reference '${{{inner}}}'",
                    hint="write ${VAR} or ${VAR:-default} (VAR: letters, digits, '_'); $$ is a '$'",
                )
            names.append(name)
            value = self.env.get(name)
            if sep and not value:
                value = default
            if value is None:
                raise self.fail(
                    node,
                    path,
                    f"environment variable {name} is not set",
                    hint=f"export {name} or write ${{{name}:-default}}",
                )
            out.append(value)
            i = end + 1
        return "".join(out), tuple(names)
