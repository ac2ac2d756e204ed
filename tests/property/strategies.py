"""Hypothesis strategies for hostile input, shared by the property tests of this folder.

Each strategy draws what a careless user or a broken (or malicious) platform could send: text with every
kind of character a report or a CI log can choke on, JSON of any shape and depth, and numbers at the edges
of what Python's ``int``/``float`` accept.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st

PROFILE = settings.get_profile("regate-property")  # registered in conftest.py
# For properties that are expected to fail (xfail) until a bug is fixed: finding the first counterexample
# is enough, shrinking it would only cost time. Drop this when the xfail marker goes.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)

# --- hostile text ---------------------------------------------------------------------------------------

DEEP_JSON_TEXT = '{"a": ' * 200 + "[" * 300 + "]" * 300 + "}" * 200
FRAGMENTS = (
    # control characters, ANSI sequences and their debris
    "\x00",
    "\x07",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[2J\x1b[H",
    "\x1b]0;pwned\x07",
    "\x1b]8;;https://evil.test\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP+q\x1b\\",
    "[1;32m",
    "\x9b31m",
    "\x7f",
    "\x85",
    "\x9c",
    # characters XML 1.0 forbids, lone surrogates, noncharacters
    "\ud800",
    "\udfff",
    "\udbff",
    "\ud83c\udf89",  # a surrogate pair as a bad UTF-16 decode leaves it: an emoji
    "\ufffe",
    "\uffff",
    "\ufdd0",
    "\U0001fffe",
    "\U0010ffff",
    # line ends and separators
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\u2028",
    "\u2029",
    # bidirectional text and marks
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u061c",
    "שלום עולם",
    "مرحبا بالعالم",
    # emoji, ZWJ sequences, combining marks, invisible characters
    "🎉",
    "👩\u200d💻",
    "👨\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈",
    "\U0001f1fa\U0001f1f8",
    "e\u0301",
    "\ufeff",
    "\u200b",
    # markup: XML, HTML, Markdown
    "]]>",
    "<![CDATA[",
    "<script>alert(1)</script>",
    "<!--",
    "-->",
    "&amp;",
    "&#0;",
    "&#x1;",
    "&",
    "<",
    ">",
    '"',
    "'",
    "|",
    "`",
    "*",
    "_",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    # GitHub Actions workflow commands and their escapes
    "::set-output name=x::y",
    "::error file=a,line=1::pwned",
    "::add-mask::secret",
    "::stop-commands::token",
    "##[error]x",
    "%0A",
    "%0D",
    "%25",
    # nested JSON inside a string (explanations often are)
    DEEP_JSON_TEXT,
    '{"explanation": ["✅ ok", "❌ not ok", {"nested": [1, 2, {"x": null}]}]}',
)

any_character = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]))


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Short text mixing random code points (lone surrogates included) with known-dangerous fragments."""
    return st.one_of(
        st.text(any_character, max_size=max_size),
        st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(any_character, max_size=4)), max_size=8).map(
            "".join
        ),
    )


def big_text(max_repeat: int = 20_000) -> st.SearchStrategy[str]:
    """Hostile text repeated up to ``max_repeat`` times: hundreds of kilobytes without drawing them."""
    return st.builds(
        lambda unit, n: (unit or "x") * n, hostile_text(20), st.integers(min_value=1, max_value=max_repeat)
    )


# --- JSON ------------------------------------------------------------------------------------------------

# Integers Python's json module accepts and str() can print (at most 4300 digits); floats as json.loads
# gives them, NaN and infinities included (it accepts the non-standard literals).
json_integers = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63), 10**30, 10**300, -(10**300)]),
)
json_floats = st.floats(allow_nan=True, allow_infinity=True)
json_scalars = st.one_of(st.none(), st.booleans(), json_integers, json_floats, hostile_text())


def nested(depth: int, leaf: Any = 1, *, as_dict: bool = False) -> Any:
    """``depth`` levels of lists (or single-key dicts) around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


def json_values(keys: st.SearchStrategy[str], *, max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """Any JSON value; object keys drawn from ``keys`` (so that parsers find the names they look for)."""
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=max_leaves,
    )


# Deeper than any real payload, yet well within what json.loads accepts at the depth the providers parse
# at (an answer deeper than that is rejected before it reaches a parser: see test_provider_fuzz).
MAX_JSON_DEPTH = 200


def deep_json(leaf: st.SearchStrategy[Any] = json_scalars) -> st.SearchStrategy[Any]:
    return st.builds(nested, st.integers(min_value=1, max_value=MAX_JSON_DEPTH), leaf, as_dict=st.booleans())


def as_received(value: Any) -> Any:
    """``value`` as it arrives from the wire: through ``json.dumps``/``json.loads`` (tuples become lists,
    keys become strings), so no Python-only value reaches a parser."""
    return json.loads(json.dumps(value))


# --- well-formed platform answers (Cekura results) -------------------------------------------------------

STATUSES = ("pending", "in_progress", "running", "evaluating", "completed", "failed", "timeout", "cancelled")
ANY_STATUS = st.sampled_from(STATUSES)
METRIC_TYPES = ("binary_workflow_adherence", "binary", "continuous_qualitative", "numeric", "enum", "custom")


def metric_json() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.integers(min_value=1, max_value=10**6),
            "name": hostile_text(),
            "type": st.sampled_from(METRIC_TYPES),
            "score": st.one_of(st.floats(0, 5), st.integers(0, 100)),
            "passed": st.booleans(),
            "explanation": st.one_of(hostile_text(), st.lists(hostile_text(), max_size=3), big_text(500)),
            "enum": st.sampled_from(("positive", "neutral", "negative")),
        }
    )


def run_json(
    statuses: st.SearchStrategy[str] = ANY_STATUS,
) -> st.SearchStrategy[dict[str, Any]]:
    """One run of a Cekura result (§A6) with hostile text in every free-text field."""
    return st.fixed_dictionaries(
        {
            "id": st.integers(min_value=1, max_value=10**9),
            "scenario": st.one_of(
                st.integers(1, 999),
                st.fixed_dictionaries({"id": st.integers(1, 999), "name": hostile_text()}),
            ),
            "scenario_name": hostile_text(),
            "personality_name": hostile_text(),
            "status": statuses,
            "success": st.booleans(),
            "evaluation": st.fixed_dictionaries({"metrics": st.lists(metric_json(), max_size=3)}),
            "expected_outcome": st.fixed_dictionaries(
                {"score": st.integers(0, 100), "explanation": st.lists(hostile_text(), max_size=3)}
            ),
            "error_message": st.one_of(st.none(), hostile_text(), big_text(200)),
            "duration": st.one_of(st.floats(0, 600), st.sampled_from(("01:30", "1:02:03", "00:00:07"))),
            "transcript": st.one_of(hostile_text(), big_text(3_000)),
        }
    )


def result_json(
    statuses: st.SearchStrategy[str] = ANY_STATUS,
) -> st.SearchStrategy[dict[str, Any]]:
    """A well-formed Cekura result whose counters agree with its runs, as a list or a map (§C-11)."""

    def build(result_id: int, status: str, runs: list[dict[str, Any]], as_map: bool) -> dict[str, Any]:
        success = sum(1 for run in runs if run["success"])
        return {
            "id": result_id,
            "status": status,
            "name": f"result {result_id}",
            "total_runs_count": len(runs),
            "completed_runs_count": len(runs),
            "success_runs_count": success,
            "failed_runs_count": len(runs) - success,
            "success_rate": 100.0 * success / len(runs) if runs else 0.0,
            "runs": {str(run["id"]): run for run in runs} if as_map else runs,
            "failed_infrastructure_runs": [run["id"] for run in runs if run["status"] == "failed"],
            "not_connected_runs": [],
        }

    return st.builds(
        build,
        st.integers(1, 10**9),
        statuses,
        st.lists(run_json(statuses), max_size=5, unique_by=lambda run: run["id"]),
        st.booleans(),
    )
