#!/usr/bin/env python3
"""An example target for regate's Freeplay gates: a tiny "support bot" answering from a built-in FAQ.

regate runs a *target* -- the system under test -- once per Freeplay test case, records what it answered
on Freeplay, and gates on the evaluations. A command target is any program that follows this protocol
(this file is one, in plain Python 3 without dependencies; use it as a template for your own):

Input -- exactly one JSON object on stdin::

    {
      "test_case_id": "398959a6-...",          # the Freeplay test case
      "kind": "completion",                    # "completion" (prompt dataset) or "trace" (agent dataset)
      "variables": {"question": "..."},        # completion cases: the prompt's input variables
      "history": [{"role": "user", "content": "..."}],   # completion cases: earlier turns, often []
      "input": "...",                          # trace cases instead: the agent's input (any JSON value)
      "output": "...",                         # only with include_outputs: the dataset's reference output
      "metadata": {"topic": "refunds"}         # the test case's custom metadata
    }

Output -- on stdout, then exit 0:

- structured: one JSON object with an ``"output"`` key (any JSON value; a string for chat answers), an
  optional ``"eval_results"`` object of name -> boolean or number (recorded as Freeplay client
  evaluations) and an optional ``"messages"`` array (the full conversation to record); other keys are
  ignored. This script prints ``{"output": "<answer>", "eval_results": {"answered": true}}``;
- or plain text: anything that is not such an object is the output itself (``--text`` prints that form).

A non-zero exit status, a timeout, or empty/invalid output counts as a target error for that test case
(regate records the error so every case is accounted for, and reports it; stderr's tail is shown).

Usage::

    echo '{"kind": "completion", "variables": {"question": "What are your support hours?"}}' \\
        | python3 configs/examples/support_target.py
    python3 configs/examples/support_target.py --regressed     # or SUPPORT_TARGET_MODE=regressed

The answers match the simulator's default world (``runner/simulator/worlds/default.yaml``: Freeplay
datasets ``support-faq`` and ``support-agent-traces``), so every evaluation passes; ``--regressed``
answers about two thirds of the questions wrongly, rudely or unhelpfully, so the gate fails clearly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, NamedTuple


class Entry(NamedTuple):
    triggers: tuple[str, ...]  # lowercase phrases; the entry with the most of them in the question wins
    good: str  # "{order}" is replaced by the order number the customer gave
    regressed: str | None = None  # the broken build's answer; None = it still answers well


KNOWLEDGE = (
    # Prompt dataset "support-faq" (completion cases).
    Entry(
        ("refund take", "money back", "refund to", "how long does a refund", "get my refund"),
        "Refunds go back to your original payment method within 5 business days of the return reaching "
        "our warehouse.",
        "Refunds are instant, usually within 24 hours.",
    ),
    Entry(
        ("return window", "return policy", "how long do i have to return"),
        "You can return any unused item within 30 days of delivery for a full refund; just start the "
        "return from your Orders page.",
        "Whatever, read the FAQ.",
    ),
    Entry(
        ("cost", "price", "how much"),
        "The Pro plan costs $29 per month, or $290 per year if you pay annually, and you can cancel at any "
        "time.",
        "The Pro plan is $49 per month, obviously.",
    ),
    Entry(
        ("upgrade",),
        "Open Settings, go to Billing and click Upgrade to Pro; the new plan starts right away and the "
        "price is prorated.",
    ),
    Entry(
        ("track",),
        "Open Orders in your account and click the order number to see its tracking link; we also email "
        "it when the parcel ships.",
        "Just figure it out from the website.",
    ),
    Entry(
        ("ship internationally", "international", "abroad", "countries"),
        "Yes, we ship to more than 40 countries; international delivery usually takes 7 to 14 business days.",
    ),
    Entry(
        ("password", "log in", "sign in"),
        "Click Forgot password on the sign-in page and we will email you a reset link that stays valid for "
        "one hour.",
        "I think you need to call us about that.",
    ),
    Entry(
        ("support hours", "opening hours", "hours", "when can i reach"),
        "Our support team is available Monday to Friday, 9am to 6pm Eastern Time, by chat and by phone.",
    ),
    # Agent dataset "support-agent-traces" (trace cases).
    Entry(
        ("broken", "damaged", "blender", "arrived"),
        "I'm sorry your item arrived broken. I've issued a full refund for order {order}; it will reach "
        "your original payment method within 5 business days.",
        "We probably can't do anything about that.",
    ),
    Entry(
        ("charged twice", "duplicate", "double charge", "twice"),
        "Thanks for flagging this. I found the duplicate charge on order {order} and opened a dispute "
        "ticket to reverse it within 3 business days.",
    ),
    Entry(
        ("where is my order", "where is order", "where's my order"),
        "Order {order} has shipped and should arrive within 2 business days; I've emailed you the tracking "
        "link.",
        "Not my problem, ask the courier.",
    ),
    Entry(
        ("90 days", "days ago", "months ago", "shoes"),
        "I'm sorry, that purchase is outside our 30 days return window, so I can't refund it, but I can "
        "offer you store credit instead.",
        "Sure, here is a full refund for your shoes.",
    ),
    Entry(
        ("manager", "supervisor", "human", "escalate"),
        "I understand. Refunds over $100 need a supervisor's approval, so I'm transferring you to a human "
        "agent now.",
    ),
)
UNKNOWN = "I'm not sure about that one; please email support@acme.example and a teammate will help."


def _text(value: Any) -> str:
    """The words of any JSON value: strings as they are, objects and lists by their values."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def answer(case: dict[str, Any], *, regressed: bool = False) -> dict[str, Any]:
    """The structured output for one test case (the protocol's input object)."""
    if case.get("kind") == "trace":
        question = _text(case.get("input"))
        context = question
    else:
        variables = case.get("variables") or {}
        question = _text(variables.get("question", variables))
        context = question + " " + _text(case.get("history") or [])
    low = question.lower()
    best = max(KNOWLEDGE, key=lambda e: sum(t in low for t in e.triggers))
    if not any(t in low for t in best.triggers):
        return {"output": UNKNOWN, "eval_results": {"answered": False}}
    text = best.regressed if regressed and best.regressed is not None else best.good
    order = re.search(r"\b\d{4}\b", context)
    text = text.replace("{order}", order.group(0) if order else "on your account")
    return {"output": text, "eval_results": {"answered": True}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Example regate target: a tiny FAQ support bot.")
    parser.add_argument("--regressed", action="store_true", help="answer like a broken build")
    parser.add_argument("--text", action="store_true", help="print the answer as plain text, not JSON")
    args = parser.parse_args(argv)
    regressed = args.regressed or os.environ.get("SUPPORT_TARGET_MODE", "").lower() == "regressed"
    try:
        case = json.loads(sys.stdin.read())
    except ValueError as exc:
        print(f"support_target: stdin is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(case, dict):
        print("support_target: stdin must be one JSON object", file=sys.stderr)
        return 2
    result = answer(case, regressed=regressed)
    print(result["output"] if args.text else json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
