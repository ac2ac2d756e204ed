"""Cleaning remote text before it reaches a report or a CI log.

Transcripts, explanations and names come from the platforms and may hold anything: terminal colour codes,
NUL bytes, lone surrogates from a bad decode, Windows line ends, or a line that GitHub Actions would run as
a workflow command. Every reporter passes remote text through these pure functions first.

- ``clean_text``: ANSI sequences removed, XML-illegal characters replaced by *visible* escapes (``\\x07``,
  ``\\uFFFE``) so that nothing disappears silently, CRLF/CR normalised to LF. All other Unicode (emoji,
  accents, RTL text) is kept. The function is idempotent.
- ``one_line``: cleaned, on one line, bounded — for XML attributes and table cells.
- ``excerpt``: cleaned and bounded to a head and a tail, with a marker saying how much was left out.
- ``escape_workflow_command``: text that can be printed to a GitHub Actions log without becoming a command.
"""

from __future__ import annotations

import functools
import re

__all__ = ["ELLIPSIS", "LINE_BREAK", "clean_text", "escape_workflow_command", "excerpt", "one_line"]

ELLIPSIS = "…"
LINE_BREAK = " ⏎ "  # what one_line shows where the text had a line break

# Full escape sequences (ECMA-48): CSI (7-bit ``ESC [`` and 8-bit ``\x9b``), OSC/DCS/SOS/PM/APC strings
# ended by BEL or ST (an unterminated one ends at the line end, so it cannot swallow a whole transcript), and
# the short ESC sequences (without the rare space intermediate, so that a stray "ESC word" loses only the ESC,
# not the first letter of the word). 8-bit string introducers (U+009D...) are not treated as such: in decoded
# text they are more often mojibake than terminal output, so they are escaped visibly instead.
_ANSI = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]                       # CSI ... final byte
    | \x1b[\]PX^_] [^\n]*? (?:\x07|\x1b\\|\x9c|(?=\n)|\Z)          # OSC/DCS/... strings
    | \x1b [!-/]* [0-~]                                         # nF / Fp / Fe / Fs escapes
    """,
    re.VERBOSE,
)
# What naive stripping (removing only the ESC byte, as junit-xml does) leaves behind: "[31m", "[1;32m", "[0m".
# Only the SGR form with at least one parameter is removed; the price is that a literal "[5m" in remote text
# is lost too, which we accept because colour debris is far more common in agent logs than that text.
_ORPHAN_SGR = re.compile(r"\[(?:[0-9]{1,3};)*[0-9]{1,3}m")
_NEWLINES = re.compile(r"\r\n?")
# A high surrogate followed by a low one is a character that was decoded as UTF-16 pairs; rejoin it so
# that an emoji survives instead of becoming two escapes.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


# Not allowed in XML 1.0 (C0 controls except TAB/LF, lone surrogates, U+FFFE/U+FFFF) or discouraged by it and
# deleted by junit-xml (DEL, C1 controls, the noncharacters U+FDD0-U+FDEF and U+nFFFE/U+nFFFF in every plane).
# Written as the complement (what is kept): the regular-expression engine tests a class's ranges one by one,
# so the usual character is decided by the first range instead of failing all 23 of the forbidden ones
# (ten times faster, and every string of every report is searched with it). Compiled on first use: building
# its table for the first plane takes 10 ms, which ``regate --help`` need not pay.
@functools.cache
def _illegal() -> re.Pattern[str]:
    return re.compile(
        "[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd"
        + "".join(f"{chr(plane * 0x10000)}-{chr(plane * 0x10000 + 0xFFFD)}" for plane in range(1, 17))
        + "]"
    )


_WHITESPACE_RUN = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"\s*\n\s*")
# A line is a workflow command when, after leading whitespace, it starts with "::" (or the legacy "##[").
# The runner splits on CR, LF and CRLF and trims Unicode whitespace (we also include characters that some
# .NET versions trimmed), so the same set is matched here; to be safe with any other reader of the log, the
# Unicode line breaks NEL, LS and PS start a line too.
_WORKFLOW_COMMAND = re.compile(
    r"(\A|\r\n|[\r\n\x85\u2028\u2029])((?:[^\S\r\n\x85\u2028\u2029]|[\u180e\u200b\ufeff])*)(:(?=:)|#(?=#\[))"
)
_ZERO_WIDTH_SPACE = "\u200b"


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02X}"
    if code < 0x10000:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _join_pair(match: re.Match[str]) -> str:
    high, low = (ord(c) for c in match.group())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def clean_text(s: str) -> str:
    """Strip ANSI escape sequences, normalise line ends to LF and escape XML-illegal characters visibly.

    >>> clean_text("\\x1b[31mred\\x1b[0m\\r\\nbell\\x07")
    'red\\nbell\\\\x07'
    """
    if _illegal().search(s) is None and _ORPHAN_SGR.search(s) is None:
        return s  # the common case, and exact: every rule below needs one of these to match
    s = _ANSI.sub("", s)
    s = _ORPHAN_SGR.sub("", s)
    s = _NEWLINES.sub("\n", s)
    s = _SURROGATE_PAIR.sub(_join_pair, s)
    return _illegal().sub(_visible_escape, s)


def _truncate(s: str, limit: int) -> str:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(s) <= limit:
        return s
    return s[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def one_line(s: str, limit: int = 500) -> str:
    """Clean ``s``, put it on one line (line breaks shown as " ⏎ ", whitespace collapsed) and bound it.

    The result has at most ``limit`` characters; a truncated result ends with "…".
    """
    if s.isprintable() and "  " not in s and _ORPHAN_SGR.search(s) is None:
        # The common case (a name, a status, a reason), in one scan instead of four: a printable string
        # has no control, surrogate or noncharacter for ``clean_text`` to act on, and no whitespace but
        # single ASCII spaces (tabs, line breaks and Unicode spaces are not printable).
        return _truncate(s.strip(" "), limit)
    s = clean_text(s).strip()
    s = _BREAKS.sub(LINE_BREAK, s)
    s = _WHITESPACE_RUN.sub(" ", s)
    return _truncate(s, limit)


def excerpt(s: str, head: int = 1500, tail: int = 1500) -> str:
    """Clean ``s`` and keep at most its first ``head`` and last ``tail`` characters.

    What is left out is replaced by a line ``… [N characters omitted] …`` (N counts cleaned characters), so a
    reader knows the text is incomplete and by how much.
    """
    if head < 0 or tail < 0:
        raise ValueError("head and tail must not be negative")
    s = clean_text(s)
    omitted = len(s) - head - tail
    if omitted <= 0:
        return s
    start = s[:head]
    end = s[len(s) - tail :] if tail else ""
    return f"{start}\n{ELLIPSIS} [{omitted} characters omitted] {ELLIPSIS}\n{end}"


def escape_data(value: str) -> str:
    """Escape the data of a workflow command (the part after ``::``: an annotation's message, a value to
    mask, a group's title): ``%``, CR and LF are percent-encoded, as the runner decodes them."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_workflow_command(line: str) -> str:
    """Make text safe to print to a GitHub Actions log: no line of it can start a workflow command.

    A zero-width space is put between the two characters that open a command (``::`` or ``##[``) on every
    line of ``line``; the text reads the same, but the runner no longer sees a command. Everything else is
    unchanged (clean the text first if it is remote).
    """
    return _WORKFLOW_COMMAND.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + _ZERO_WIDTH_SPACE, line)
