"""The words write-back puts on a Cekura run: one feedback line per run, pure and bounded.

    [regate smoke 9876] gate smoke FAILED, run failed (commit abc1234 on main) https://github.com/o/r/actions/runs/9876

- The bracket is the *marker* ``[regate <gate> <CI run id>]`` (``local`` outside CI). It comes first, so no
  truncation can cut it, and a later write-back for the same gate and CI run recognises it. Its two words
  keep only ``A-Z a-z 0-9 . _ -`` (anything else becomes ``_``), so the marker is the same on every run.
- Then the gate's status (``PASSED``/``FAILED``/``ERROR``, ``(non-blocking)`` for an advisory gate), the
  run's outcome, and what is known of the CI context: the short commit (only a hex SHA), the branch, the
  repository (only when there is no URL), ``local run`` when neither commit nor URL is known, and the CI
  run's URL (http/https only, without user info, query or fragment: a token there never reaches the run).
- The keys of the context are those of ``config_freeplay.run_context``: ``sha``, ``branch``, ``run_url``,
  ``repository``, ``run_id``; missing keys are unknown parts.
- The line is cleaned and bounded by ``textclean.one_line`` (``FEEDBACK_LIMIT`` characters), and every
  value of ``secrets`` (4 characters or more, as ``runner.masking``) is replaced by ``***`` -- a second
  line of defence: nothing secret is read in the first place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from runner.textclean import one_line

__all__ = [
    "FEEDBACK_LIMIT",
    "GATE_STATUSES",
    "RUN_OUTCOMES",
    "feedback_line",
    "marker",
    "mask",
    "public_url",
    "short_sha",
]

FEEDBACK_LIMIT = 500
MIN_SECRET = 4  # shorter values are not masked: they would garble unrelated text (see runner.masking)
URL_LIMIT = 200  # a longer URL is left out rather than cut
GATE_STATUSES = ("passed", "failed", "error")  # runner.model.GateStatus values
RUN_OUTCOMES = ("passed", "failed", "infra_error", "incomplete")  # runner.model.RunOutcome values
_OUTCOME_WORDS = {
    "passed": "run passed",
    "failed": "run failed",
    "infra_error": "run not completed (infrastructure error)",
    "incomplete": "run incomplete",
}
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret of at least ``MIN_SECRET`` characters replaced by ``***``."""
    for secret in secrets:
        if len(secret.strip()) >= MIN_SECRET:
            text = text.replace(secret, "***")
    return text


def _token(value: str, fallback: str) -> str:
    return _TOKEN_UNSAFE.sub("_", value.strip())[:64].strip("_") or fallback


def short_sha(ci: Mapping[str, str]) -> str:
    """The commit's first 7 hex digits (lower case), or "" when the context holds no hex SHA."""
    sha = ci.get("sha", "").strip()
    return sha[:7].lower() if _SHA.fullmatch(sha) else ""


def public_url(value: str) -> str:
    """An http(s) URL without user info, query or fragment; "" when it is not one (or is absurdly long)."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() or c < " " for c in value):
        return ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url if len(url) <= URL_LIMIT else ""


def marker(gate: str, ci: Mapping[str, str]) -> str:
    """``[regate <gate> <CI run id>]``: recognises this gate's annotation from this CI run."""
    return f"[regate {_token(gate, 'gate')} {_token(ci.get('run_id', ''), 'local')}]"


def feedback_line(
    gate: str,
    status: str,
    outcome: str,
    ci: Mapping[str, str],
    *,
    blocking: bool = True,
    secrets: Iterable[str] = (),
) -> str:
    """The one-line annotation of one run of ``gate`` (see the module docstring)."""
    if status not in GATE_STATUSES:
        raise ValueError(f"gate status must be one of {GATE_STATUSES}, got {status!r}")
    if outcome not in RUN_OUTCOMES:
        raise ValueError(f"run outcome must be one of {RUN_OUTCOMES}, got {outcome!r}")
    short = short_sha(ci)
    branch = one_line(ci.get("branch", ""), 80)
    url = public_url(ci.get("run_url", ""))
    repository = one_line(ci.get("repository", ""), 100)
    context = []
    if short:
        context.append(f"commit {short}" + (f" on {branch}" if branch else ""))
    elif branch:
        context.append(f"branch {branch}")
    if repository and not url:
        context.append(f"in {repository}")
    if not short and not url:
        context.append("local run")
    text = f"{marker(gate, ci)} gate {gate} {status.upper()}"
    text += ("" if blocking else " (non-blocking)") + f", {_OUTCOME_WORDS[outcome]}"
    text += f" ({'; '.join(context)})" + (f" {url}" if url else "")
    secrets = tuple(secrets)
    return mask(one_line(mask(text, secrets), FEEDBACK_LIMIT), secrets)
