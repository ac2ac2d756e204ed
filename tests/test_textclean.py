"""Specification of ``runner.textclean``: remote text made safe for XML, tables and GitHub logs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.textclean import clean_text, escape_workflow_command, excerpt, one_line

XML_ILLEGAL = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("\x1b[31mred\x1b[0m", "red", id="csi-colour"),
        pytest.param("\x1b[1;38;5;196mbold\x1b[m", "bold", id="csi-256-colour-and-reset"),
        pytest.param("a\x1b[2Kb\x1b[1A", "ab", id="csi-erase-and-cursor"),
        pytest.param("\x1b]0;window title\x07text", "text", id="osc-bel"),
        pytest.param("\x1b]8;;https://x.test\x1b\\link\x1b]8;;\x1b\\", "link", id="osc-hyperlink-st"),
        pytest.param("\x1b]0;unterminated\nnext line", "\nnext line", id="osc-unterminated-stops-at-eol"),
        pytest.param("\x1b(Bplain\x1b7", "plain", id="charset-and-save-cursor"),
        pytest.param("[31mred[0m [1;32mgreen", "red green", id="orphan-sgr-debris"),
        pytest.param("array[3] and [m]", "array[3] and [m]", id="brackets-that-are-not-sgr"),
        pytest.param("a\r\nb\rc\nd", "a\nb\nc\nd", id="crlf-and-cr"),
        pytest.param("nul\x00 bell\x07 vt\x0b", "nul\\x00 bell\\x07 vt\\x0B", id="c0-controls"),
        pytest.param("del\x7f c1\x85", "del\\x7F c1\\x85", id="del-and-c1"),
        pytest.param("esc\x1b end", "esc\\x1B end", id="lone-esc-visible"),
        pytest.param("x\ufffey\uffff", "x\\uFFFEy\\uFFFF", id="bmp-noncharacters"),
        pytest.param("\U0001fffe", "\\U0001FFFE", id="astral-noncharacter"),
        pytest.param("lone\ud800 low\udc00", "lone\\uD800 low\\uDC00", id="lone-surrogates"),
        pytest.param("\ud83d\ude00", "😀", id="surrogate-pair-rejoined"),
        pytest.param("tab\tkept\n", "tab\tkept\n", id="tab-and-lf-kept"),
        pytest.param("🎉 👩\u200d💻 café עברית", "🎉 👩\u200d💻 café עברית", id="unicode-survives"),
        pytest.param("]]> <script>&amp;", "]]> <script>&amp;", id="markup-is-not-our-business"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    """ANSI sequences vanish, line ends become LF, illegal characters turn into visible escapes."""
    assert clean_text(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("\x1b[31mx\x00\ufffe\ud800\r\n", id="hostile"),
        pytest.param("\\x07 already escaped", id="escaped-text"),
        pytest.param("plain", id="plain"),
    ],
)
def test_clean_text_is_idempotent_and_xml_legal(raw: str) -> None:
    """Cleaning twice changes nothing, and the result has no character XML 1.0 forbids."""
    once = clean_text(raw)
    assert clean_text(once) == once
    assert not XML_ILLEGAL.search(once)


def _escaped_by_rule(code: int) -> bool:
    """The characters ``clean_text`` escapes, as the module docstring states them: C0 controls but TAB and
    LF (CR is escaped where it is not a line end), DEL and C1, surrogates, U+FDD0-U+FDEF, and the last two
    code points of every plane."""
    return (
        (code < 0x20 and code not in (0x09, 0x0A))
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFF in (0xFFFE, 0xFFFF)
    )


def test_clean_text_escapes_exactly_the_forbidden_characters() -> None:
    """Every code point of the first plane, and each edge of every other plane, is escaped exactly when the
    rule says so (the set is written as its complement for speed, so it is checked against the rule)."""
    lows = (0, 1, 0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF)
    edges = [plane * 0x10000 + low for plane in range(1, 17) for low in lows]
    for code in [*range(0x10000), *edges]:
        char = chr(code)
        if code == 0x0D:
            continue  # a lone CR is a line end: it becomes LF (see "crlf-and-cr")
        escaped = clean_text(f"a{char}b") != f"a{char}b"
        assert escaped == _escaped_by_rule(code), f"U+{code:04X}"


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        pytest.param("a\nb", 500, "a ⏎ b", id="newline-marked"),
        pytest.param("a\r\n\r\n  b", 500, "a ⏎ b", id="blank-lines-collapse"),
        pytest.param("  a\t\tb  ", 500, "a b", id="whitespace-collapses"),
        pytest.param("abcdef", 4, "abc…", id="truncated-with-ellipsis"),
        pytest.param("abcd", 4, "abcd", id="exact-fit"),
        pytest.param("\x1b[31mred\x1b[0m\x07", 500, "red\\x07", id="cleaned"),
        pytest.param("", 500, "", id="empty"),
        # printable text takes a shorter path: it must end the same way
        pytest.param("  Refund request [Angry caller]  ", 500, "Refund request [Angry caller]", id="spaces"),
        pytest.param("colour debris [31m left", 500, "colour debris left", id="orphan-sgr"),
        pytest.param("no\u00a0break", 500, "no break", id="unicode-space"),
        pytest.param("a  b", 3, "a b", id="double-space"),
        pytest.param(" 🎉 émoji ", 6, "🎉 émo…", id="printable-unicode-cut"),
    ],
)
def test_one_line(raw: str, limit: int, expected: str) -> None:
    """One line, at most ``limit`` characters, ending in "…" when cut."""
    result = one_line(raw, limit)
    assert result == expected
    assert "\n" not in result
    assert len(result) <= limit


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet=" a\t\n\r\x1b[31m;\u00a0\u2028\u200b\ud800\ufffe#:é🎉\x85\x9b", max_size=16),
    st.integers(1, 12),
)
def test_one_line_is_clean_text_on_one_line_bounded(raw: str, limit: int) -> None:
    """Whichever path it takes (printable text has a shorter one): cleaned, line breaks marked, whitespace
    runs collapsed, bounded."""
    expected = re.sub(r"[^\S\n]+", " ", re.sub(r"\s*\n\s*", " ⏎ ", clean_text(raw).strip()))
    if len(expected) > limit:
        expected = expected[: limit - 1].rstrip() + "…"
    assert one_line(raw, limit) == expected


def test_one_line_rejects_a_useless_limit() -> None:
    """A limit below one character is a programming error, not something to guess around."""
    with pytest.raises(ValueError, match="limit"):
        one_line("x", 0)


def test_excerpt_keeps_short_text_whole() -> None:
    """Text within head + tail is returned cleaned but complete."""
    assert excerpt("a\r\nb", head=2, tail=2) == "a\nb"


def test_excerpt_bounds_head_and_tail_and_says_how_much_is_missing() -> None:
    """A 1 MB transcript keeps its first and last characters, with the omitted count in between."""
    text = "H" * 10 + "m" * 1_000_000 + "T" * 10
    result = excerpt(text, head=10, tail=10)
    assert result == "H" * 10 + "\n… [1000000 characters omitted] …\n" + "T" * 10


def test_excerpt_with_zero_tail() -> None:
    assert excerpt("abcdef", head=2, tail=0) == "ab\n… [4 characters omitted] …\n"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("::set-output name=x::y", id="set-output"),
        pytest.param("::add-mask::secret", id="add-mask"),
        pytest.param("   \t::error::boom", id="after-whitespace"),
        pytest.param("::stop-commands::token", id="stop-commands"),
        pytest.param("##[group]legacy", id="legacy-hash"),
        pytest.param("\ufeff::warning::bom", id="after-bom"),
    ],
)
def test_escape_workflow_command_neutralises_command_lines(line: str) -> None:
    """No escaped line starts (after whitespace) with "::" or "##[", yet the visible text is unchanged."""
    escaped = escape_workflow_command(line)
    assert not re.match(r"^[\s\ufeff]*(::|##\[)", escaped)
    assert escaped.replace("\u200b", "") == line


def test_escape_workflow_command_applies_to_every_line() -> None:
    """Each LF, CR or CRLF starts a new line for the runner, so each one is checked."""
    text = "ok\n::a::1\r::b::2\r\n  ##[c]\nmid ::d::4"
    escaped = escape_workflow_command(text)
    for line in re.split(r"\r\n|\r|\n", escaped):
        assert not re.match(r"^\s*(::|##\[)", line)
    assert escaped.endswith("mid ::d::4")  # "::" inside a line is harmless and left alone
    assert escape_workflow_command(escaped) == escaped
