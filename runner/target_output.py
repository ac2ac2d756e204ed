"""What a target printed (or answered) → the recorded output: pure, shared by command and HTTP targets.

The rules are the "Output" part of the target protocol described in ``runner.targets``:

- the bytes must be UTF-8 (a leading byte-order mark is dropped);
- blank output is an error;
- a JSON object with an ``"output"`` key is a *structured* output: ``output`` (any JSON value),
  optional ``eval_results`` (name → boolean or finite number) and optional ``messages`` (array of objects);
  other keys are ignored, ``null`` counts as absent for the optional keys;
- anything else is *plain text*: the whole text, minus one trailing line break, is the output string.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from runner.textclean import one_line

__all__ = ["OutputError", "ParsedOutput", "parse_output"]

_BOM = "\ufeff"
_NAME_LIMIT = 60  # characters of a bad key quoted in an error


@dataclass(frozen=True, slots=True)
class ParsedOutput:
    """A valid target output, ready to record."""

    output_json: str  # the output value, JSON-serialised (plain text is a JSON string)
    messages_json: str | None = None  # JSON array of message objects, when the target gave one
    eval_results: tuple[tuple[str, bool | float], ...] = ()  # sorted by name


@dataclass(frozen=True, slots=True)
class OutputError:
    """Why the output cannot be used: one line, meant for the user."""

    message: str


class _NonStandardConstant(ValueError):
    """JSON text used NaN/Infinity, which Python accepts and JSON does not."""


def _reject_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _quote(name: str) -> str:
    return json.dumps(one_line(name, _NAME_LIMIT), ensure_ascii=False)


def _eval_results(raw: object) -> tuple[tuple[str, bool | float], ...] | OutputError:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        return OutputError(f"'eval_results' must be an object of name → boolean or number, got {_kind(raw)}")
    pairs: list[tuple[str, bool | float]] = []
    for name, value in raw.items():
        if not name.strip():
            return OutputError("'eval_results' has an empty name")
        if isinstance(value, bool):
            pairs.append((name, value))
            continue
        number: float | None = None
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                number = None
        if number is None or not math.isfinite(number):
            return OutputError(
                f"'eval_results' {_quote(name)} must be a boolean or a finite number, got {_kind(value)}"
            )
        pairs.append((name, number))
    return tuple(sorted(pairs))


def _messages(raw: object) -> str | OutputError | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        return OutputError(f"'messages' must be an array of message objects, got {_kind(raw)}")
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            return OutputError(f"'messages'[{index}] must be an object, got {_kind(message)}")
    return _dumps(raw)


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if isinstance(value, int) or math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _structured(document: dict[str, Any]) -> ParsedOutput | OutputError:
    evals = _eval_results(document.get("eval_results"))
    if isinstance(evals, OutputError):
        return evals
    messages = _messages(document.get("messages"))
    if isinstance(messages, OutputError):
        return messages
    return ParsedOutput(output_json=_dumps(document["output"]), messages_json=messages, eval_results=evals)


def _plain(text: str) -> ParsedOutput:
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return ParsedOutput(output_json=_dumps(text))


def parse_output(raw: bytes) -> ParsedOutput | OutputError:
    """Turn a target's raw output into what regate records, or say why it cannot be used."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return OutputError(f"output is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})")
    text = text.removeprefix(_BOM)
    stripped = text.strip()
    if not stripped:
        return OutputError("empty output")
    if not stripped.startswith("{"):
        return _plain(text)
    try:
        document = json.loads(stripped, parse_constant=_reject_constant)
    except _NonStandardConstant as exc:
        return OutputError(f"output is a JSON object with {exc}, which JSON does not allow")
    except (ValueError, RecursionError):
        return _plain(text)  # looks like JSON but is not: it is text
    if not isinstance(document, dict) or "output" not in document:
        return _plain(text)
    try:
        return _structured(document)
    except RecursionError:
        return OutputError("output JSON is nested too deeply")
