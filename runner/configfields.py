"""Typed readers over ``yamlpos`` nodes for ``config``: each check fails with a located ``ConfigError``.

Integer and number fields also accept a *quoted* ``"${VAR}"`` whose text is a number (quotes are needed
for references inside ``[ ]`` or ``{ }``); a quoted scalar otherwise stays a string.

Messages describe a wrong value by its type and, unless it came from the environment, by its text: a value
built by ``${VAR}`` interpolation is shown as written (``'${AGENT_ID}'``), so no environment value -- an
API key passed to the wrong field, say -- can end up in a message or a CI log. As a safety net for messages
that quote a value anyway (a threshold parser quoting the word it stumbled on, a file name), ``Fields`` is
given the environment's secret values and masks each of them, and each of their longer words, in every
message and hint; the values from the environment in the node a message is about are replaced by the way
they were written; and a ``ConfigError`` never carries the exception that was being handled when it was
raised, since that exception's text may quote the value.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

from runner.durations import EXAMPLES, parse_duration
from runner.errors import ConfigError, ThresholdSyntaxError
from runner.thresholds import THRESHOLD_KEYS, Comparison, Op, Thresholds, compile_thresholds, merge_thresholds
from runner.yamlpos import Map, Node, Scalar, Seq, join, to_plain

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
UUID_EXAMPLE = "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f"
GATE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
GATE_NAME_MAX = 100  # JUnit consumers cut long classnames, so longer names could stop being unique
# What a gate requires when its merged thresholds hold no check: every run (test case) must succeed.
FAIL_CLOSED = Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%"))


def describe(node: Node | None) -> str:
    """A wrong value as messages show it: ``the string 'abc'``, ``a list``, ``-1``."""
    if node is None:
        return "nothing"
    if isinstance(node, Seq):
        return "a list"
    if isinstance(node, Map):
        return "a mapping"
    value = node.value
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(type(value), "null")
    if node.interpolated:
        return f"{kind} from {node.source!r}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({node.text})"
    if isinstance(value, str):
        return f"the string {value!r}"
    return node.text


def shown(node: Scalar) -> str:
    """The value's text for a message, quoted; as written in the file if it came from the environment."""
    return repr(node.source if node.interpolated else node.text)


def did_you_mean(word: str, choices: Collection[str], *, listing: str = "allowed") -> str:
    close = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1)
    if close:
        original = next(c for c in choices if c.lower() == close[0])
        return f"did you mean {original!r}?"
    return f"{listing}: {', '.join(choices)}"


def listing(words: Sequence[str], last: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def which_modes(accepted: Sequence[str], every: Sequence[str]) -> str:
    """``voice and text modes``, ``vapi mode``, or ``every mode but email and json``."""
    others = [m for m in every if m not in accepted]
    if 0 < len(others) <= 2:
        return f"every mode but {listing(others)}"
    return f"{listing(accepted)} mode{'s' if len(accepted) > 1 else ''}"


_WORD = re.compile(r"[A-Za-z0-9_]{6,}")  # words of a secret long enough to identify it, masked on their own
_MIN_MASKED = 4  # shorter values cannot be told apart from a message's own words ("1", "90%", "yes")
MASK = "***"


def masker(secrets: Collection[str], written: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """A function that replaces each of ``secrets`` by ``***``, each text of ``written`` by the way it was
    written (``{"abc123": "${TOKEN}"}``), and each word of 6 or more letters and digits of either by ``***``
    (whole words only, so that ``https`` is not mangled by a word ``http``). Texts shorter than 4 characters
    are left alone."""
    written = written or {}
    replacements = {text: source for text, source in written.items() if len(text) >= _MIN_MASKED}
    replacements.update({secret: MASK for secret in secrets if len(secret) >= _MIN_MASKED})
    words = {w for text in (*secrets, *written) for w in _WORD.findall(text)} - set(replacements)
    if not replacements and not words:
        return lambda text: text
    alternatives = [re.escape(t) for t in sorted(replacements, key=len, reverse=True)]
    alternatives += [
        rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])" for w in sorted(words, key=len, reverse=True)
    ]
    pattern = re.compile("|".join(alternatives))
    return lambda text: pattern.sub(lambda m: replacements.get(m.group(), MASK), text)


def _interpolated(node: Node) -> dict[str, str]:
    """The text -> as-written source of every scalar in ``node`` that came from the environment."""
    if isinstance(node, Scalar):
        return {node.text: node.source} if node.interpolated else {}
    children = node.items if isinstance(node, Seq) else [value for _, value in node.entries]
    return {text: source for child in children for text, source in _interpolated(child).items()}


class Fields:
    """Error construction bound to one file. Values from the environment never show in a message or hint:
    ``secrets`` (values that may be keys or tokens) are masked everywhere, and the values of the node a
    message is about are shown as written (``${VAR}``), in case the message quotes them."""

    def __init__(self, file: str, secrets: Collection[str] = ()) -> None:
        self.file = file
        self._secrets = tuple(secrets)
        self._mask = masker(self._secrets)

    def fail(self, at: Node | int | None, path: str, message: str, hint: str | None = None) -> NoReturn:
        line = at if isinstance(at, int) or at is None else at.line
        mask = self._mask
        if isinstance(at, Scalar | Seq | Map) and (written := _interpolated(at)):
            mask = masker(self._secrets, written)
        error = ConfigError(
            mask(message),
            file=self.file,
            line=line,
            key=path or None,
            hint=None if hint is None else mask(hint),
        )
        try:
            raise error from None
        finally:
            error.__context__ = None  # the exception being handled may quote a value from the environment

    def section(
        self,
        node: Node | None,
        path: str,
        allowed: Sequence[str],
        *,
        line: int,
        extensions: bool = False,
        foreign: Mapping[str, tuple[str, str]] | None = None,
    ) -> Section:
        """A mapping whose keys must be among ``allowed`` (or start with ``x-`` if ``extensions``);
        null or absent is an empty one at ``line``. ``foreign`` maps keys that belong elsewhere (another
        provider's gates) to the (message, hint) that says so."""
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return Section(self, Map((), node.line if node else line), path)
        if not isinstance(node, Map):
            self.fail(node, path, f"expected a mapping with keys {listing(allowed)}, got {describe(node)}")
        for key, _ in node.entries:
            if key.text not in allowed and not (extensions and key.text.startswith("x-")):
                if foreign and key.text in foreign:
                    self.fail(key, path, foreign[key.text][0], hint=foreign[key.text][1])
                self.fail(key, path, f"unknown key {key.text!r}", hint=did_you_mean(key.text, allowed))
        return Section(self, node, path)

    def thresholds(self, node: Node | None, path: str) -> Thresholds:
        """Compile a ``thresholds:`` mapping, locating any error at the exact scalar that caused it."""
        if node is None:
            return Thresholds()
        if not isinstance(node, Map) and not (isinstance(node, Scalar) and node.value is None):
            self.fail(
                node,
                path,
                f"expected a mapping of thresholds, got {describe(node)}",
                hint='e.g. thresholds: {success_rate: ">= 90%", max_failed_runs: 1}',
            )
        self.section(node, path, THRESHOLD_KEYS, line=node.line)
        try:
            return compile_thresholds(to_plain(node))
        except ThresholdSyntaxError as exc:
            where = _locate(node, exc.key)
            self.fail(where, join(path, exc.key) if exc.key else path, exc.message, hint=exc.hint)

    # -- scalars ---------------------------------------------------------------------------------------

    def scalar(self, node: Node, path: str, expected: str) -> Scalar:
        if not isinstance(node, Scalar) or node.value is None:
            self.fail(node, path, f"expected {expected}, got {describe(node)}")
        return node

    def integer(
        self, node: Node, path: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        expected = _int_range(minimum, maximum)
        scalar = self.scalar(node, path, expected)
        value: object = scalar.value
        if scalar.interpolated and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            value = int(value)  # "${N}" quoted (e.g. inside [ ]): the variable's text is the number
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(node, path, f"expected {expected}, got {describe(node)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(node, path, f"expected {expected}, got {describe(node)}")
        return value

    def number(
        self, node: Node, path: str, *, above: float | None = None, minimum: float | None = None
    ) -> float:
        expected = "a number" + (f" > {above:g}" if above is not None else "")
        expected += f" >= {minimum:g}" if minimum is not None else ""
        scalar = self.scalar(node, path, expected)
        value: object = scalar.value
        if scalar.interpolated and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # "${N}" quoted: the variable's text is the number
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            self.fail(node, path, f"expected {expected}, got {describe(node)}")
        if (above is not None and value <= above) or (minimum is not None and value < minimum):
            self.fail(node, path, f"expected {expected}, got {describe(node)}")
        return float(value)

    def string(self, node: Node, path: str, *, what: str = "a string") -> str:
        """Any non-empty scalar as its text: ``name: 2024`` is the string "2024" (YAML typing is not
        meaningful for identifiers); an empty value is an error."""
        scalar = self.scalar(node, path, what)
        if not scalar.text.strip():
            self.fail(node, path, f"expected {what}, got an empty value")
        return scalar.text

    def boolean(self, node: Node, path: str) -> bool:
        scalar = self.scalar(node, path, "true or false")
        if not isinstance(scalar.value, bool):
            self.fail(node, path, f"expected true or false, got {describe(node)}")
        return scalar.value

    def uuid(self, node: Node, path: str, *, hint: str | None = None) -> str:
        """A UUID written in the 8-4-4-4-12 hex form, returned in lower case (its canonical text)."""
        text = self.string(node, path, what="a UUID").strip()
        if not _UUID.fullmatch(text):
            self.fail(node, path, f"expected a UUID such as {UUID_EXAMPLE}, got {describe(node)}", hint=hint)
        return text.lower()

    def duration(self, node: Node, path: str) -> float:
        """A duration > 0 (``30s``, ``5m``, ``1h30m``, ``250ms``; a bare number is seconds)."""
        scalar = self.scalar(node, path, "a duration")
        value = scalar.value
        if isinstance(value, bool):
            self.fail(node, path, f"expected a duration, got {describe(node)}", hint=EXAMPLES)
        try:
            seconds = parse_duration(value if isinstance(value, int | float) else scalar.text)
        except ValueError:
            self.fail(node, path, f"expected a duration, got {describe(node)}", hint=EXAMPLES)
        if seconds <= 0:
            self.fail(node, path, f"expected a duration > 0, got {describe(node)}", hint=EXAMPLES)
        return seconds

    def choice(self, node: Node, path: str, choices: Sequence[str], *, what: str) -> str:
        text = self.string(node, path, what=what)
        if text not in choices:
            self.fail(
                node,
                path,
                f"unknown {what} {shown(self.scalar(node, path, what))}",
                did_you_mean(text, choices),
            )
        return text

    def url(
        self,
        node: Node,
        path: str,
        schemes: Sequence[str],
        *,
        example: str,
        allow_query: bool = False,
        credentials_hint: str = "put API keys in api_key",
    ) -> tuple[str, SplitResult]:
        """A URL with one of ``schemes``, a host, and no credentials or fragment; a query only if allowed.

        An agent's websocket or room URL may need a query (a variant, a room token); an API base URL never
        does, and a query there would be appended to every request path.
        """
        text = self.string(node, path, what="a URL").strip()
        scalar = self.scalar(node, path, "a URL")
        parts = urlsplit(text)
        if "@" in parts.netloc:  # checked first: such a URL is never echoed
            self.fail(node, path, "the URL must not contain credentials", hint=credentials_hint)
        if parts.scheme not in schemes:
            kind = " or ".join(schemes)
            article = "an" if kind[0] in "aeioh" else "a"
            self.fail(
                node, path, f"expected {article} {kind} URL, got {shown(scalar)}", hint=f"e.g. {example}"
            )
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            self.fail(node, path, f"the URL {shown(scalar)} has an invalid port")
        if not parts.hostname:
            self.fail(node, path, f"the URL {shown(scalar)} has no host", hint=f"e.g. {example}")
        if parts.fragment or (parts.query and not allow_query):
            what = "a fragment" if allow_query else "a query or fragment"
            self.fail(node, path, f"the URL {shown(scalar)} must not have {what}")
        return text, parts

    # -- lists -----------------------------------------------------------------------------------------

    def items(self, node: Node, path: str, what: str, *, allow_empty: bool = False) -> list[tuple[Node, str]]:
        """The items of a list with their paths; a single scalar is not promoted to a list."""
        if not isinstance(node, Seq):
            hint = f"write a YAML list, e.g. [{_eg(what)}]"
            self.fail(node, path, f"expected a list of {what}, got {describe(node)}", hint=hint)
        if not node.items and not allow_empty:
            self.fail(node, path, f"the list of {what} is empty", hint="list at least one, or remove the key")
        return [(item, f"{path}[{i}]") for i, item in enumerate(node.items)]

    def int_list(self, node: Node, path: str, what: str) -> tuple[int, ...]:
        return tuple(self.integer(item, p, minimum=1) for item, p in self.items(node, path, what))

    def str_list(self, node: Node, path: str, what: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        items = self.items(node, path, what, allow_empty=allow_empty)
        return tuple(self.string(item, p) for item, p in items)

    # -- mappings --------------------------------------------------------------------------------------

    def headers(self, node: Node, path: str) -> tuple[tuple[str, str], ...]:
        """HTTP headers: valid names, one-line non-empty values, in file order."""
        if not isinstance(node, Map):
            self.fail(node, path, f"expected a mapping of header names to values, got {describe(node)}")
        headers = []
        for key, value in node.entries:
            if not _HEADER_NAME.fullmatch(key.text):
                self.fail(key, path, f"invalid header name {key.text!r}")
            text = self.string(value, f"{path}.{key.text}", what="a header value")
            if "\r" in text or "\n" in text:
                self.fail(value, f"{path}.{key.text}", "a header value must be one line")
            headers.append((key.text, text))
        return tuple(headers)


class Section:
    """A checked mapping: look up entries by key, with their paths and lines."""

    def __init__(self, fields: Fields, node: Map, path: str) -> None:
        self.fields = fields
        self.node = node
        self.path = path
        self.entries = {key.text: (key, value) for key, value in node.entries}

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get(self, name: str) -> Node | None:
        entry = self.entries.get(name)
        return entry[1] if entry else None

    def key_line(self, name: str) -> int:
        return self.entries[name][0].line

    def sub(self, name: str) -> str:
        return join(self.path, name)

    def require(self, name: str, hint: str | None = None) -> Node:
        node = self.get(name)
        if node is None:
            self.fields.fail(self.node.line, self.path, f"missing required key {name!r}", hint=hint)
        return node


def gate_name(section: Section) -> str:
    """A gate's required ``name``: letters, digits, ``_ . -`` (it names JUnit classnames and files)."""
    node = section.require("name", hint="name the gate, e.g. name: smoke")
    name = section.fields.string(node, section.sub("name"))
    if not GATE_NAME.fullmatch(name):
        section.fields.fail(
            node,
            section.sub("name"),
            f"gate name {shown(section.fields.scalar(node, section.sub('name'), 'a name'))} may only contain"
            " letters, digits, '_', '.' and '-'",
            hint="it names JUnit classnames and files",
        )
    if len(name) > GATE_NAME_MAX:
        section.fields.fail(
            node,
            section.sub("name"),
            f"gate name is {len(name)} characters long; at most {GATE_NAME_MAX} are allowed",
            hint="a short, stable name: it is the JUnit suite and classname, shown on every report line",
        )
    return name


LABEL = re.compile(r"[A-Za-z0-9_.-]+")
LABEL_MAX = 64


def gate_labels(section: Section) -> tuple[str, ...]:
    """A gate's optional ``labels`` (for ``--label``): short words, duplicates dropped, file order kept."""
    node = section.get("labels")
    if node is None:
        return ()
    labels: list[str] = []
    for item, path in section.fields.items(node, section.sub("labels"), "labels"):
        label = section.fields.string(item, path, what="a label such as nightly")
        if not LABEL.fullmatch(label) or len(label) > LABEL_MAX:
            section.fields.fail(
                item,
                path,
                f"label {shown(section.fields.scalar(item, path, 'a label'))} may only contain letters,"
                f" digits, '_', '.' and '-' (at most {LABEL_MAX})",
                hint="labels select gates on the command line: regate run --label nightly",
            )
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def gate_blocking(section: Section) -> bool:
    """``blocking: false`` makes a gate advisory: reported as a warning, never failing the step."""
    node = section.get("blocking")
    return True if node is None else section.fields.boolean(node, section.sub("blocking"))


def gate_thresholds(
    fields: Fields,
    node: Node | None,
    path: str,
    base: Thresholds,
    *,
    accepted: Collection[str],
    rejected: Callable[[str], tuple[str, str]],
) -> Thresholds:
    """A gate's ``thresholds`` merged over ``base`` (the defaults') when only the ``accepted`` keys apply
    to the gate: such a key written on the gate is an error (``rejected(key)`` gives message and hint), one
    inherited from the defaults is dropped, as defaults are shared by gates of every kind."""
    if isinstance(node, Map):
        fields.section(node, path, THRESHOLD_KEYS, line=node.line)
        for key, _ in node.entries:
            if key.text not in accepted:
                message, hint = rejected(key.text)
                fields.fail(key, path, message, hint=hint)
    return merge_thresholds(restrict(base, accepted), fields.thresholds(node, path))


def restrict(thresholds: Thresholds, keys: Collection[str]) -> Thresholds:
    """``thresholds`` with every key not in ``keys`` unset."""
    t = thresholds
    return Thresholds(
        success_rate=t.success_rate if "success_rate" in keys else None,
        metrics=t.metrics if "metrics" in keys else (),
        max_failed_runs=t.max_failed_runs if "max_failed_runs" in keys else None,
        max_infra_errors=t.max_infra_errors if "max_infra_errors" in keys else None,
        evaluations=t.evaluations if "evaluations" in keys else (),
        max_target_errors=t.max_target_errors if "max_target_errors" in keys else None,
    )


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    return "an integer"


def _eg(what: str) -> str:
    return "1, 2" if "id" in what else "a, b"


def _locate(node: Node, key: str) -> Node:
    """The node at a thresholds key path (``success_rate``, ``metrics.Latency[1]``), else the nearest."""
    if not isinstance(node, Map):
        return node
    entries = {k.text: v for k, v in node.entries}
    head, _, rest = key.partition(".")
    child = entries.get(head)
    if child is None:
        return node
    if not rest or not isinstance(child, Map):
        return child
    m = re.fullmatch(r"(.*)\[(\d+)\]", rest)
    name, index = (m.group(1), int(m.group(2))) if m else (rest, None)
    metric = next((v for k, v in child.entries if k.text == name), None)
    if metric is None:
        return child
    if index is not None and isinstance(metric, Seq) and index < len(metric.items):
        return metric.items[index]
    return metric
