"""A Freeplay gate of ``gates:`` (``provider: freeplay``): one ``FreeplayGate``, per api-contracts Part B.

Keys (``name``, ``provider: freeplay``, ``project`` and one of ``dataset`` / ``suite`` required)::

    name, provider, project (a UUID, kept in lower case), timeout, thresholds, test_run_name   every gate
    dataset (a dataset *name*)                     -> mode dataset: create a test run, run the target
    suite (a suite id)                             -> mode suite (suite_execution: server, the default)
    suite + suite_execution: client                -> mode suite-client: page its test cases, run the target
    include_outputs, flavor_name, target_evaluation_ids (UUIDs), description     dataset gates only
    environment                                                                  suite gates only
    target (required), target_concurrency (1..64, default 4)      dataset and client-side suite gates

A key of Cekura gates (``agent``, ``scenarios``, ...) is an error naming the provider that takes it, and so is
a key outside its modes. ``target`` is read by ``runner.config_target``; the concurrency of test cases is the
gate's ``target_concurrency``, not a key of ``target``.

Run names: ``test_run_name`` (default ``"regate {gate} {short_sha}"``) and ``description`` (dataset gates;
default ``regate gate {gate}; commit {sha} on {branch}; {run_url}``, leaving out what is unknown, and
``regate gate {gate}; local run`` outside CI) are templates rendered at load time. Placeholders come from
the GitHub Actions variables: ``{gate}``, ``{sha}`` (GITHUB_SHA, empty outside CI), ``{short_sha}`` (its
first 7 characters, ``local`` outside CI), ``{branch}`` (GITHUB_HEAD_REF on pull requests, else
GITHUB_REF_NAME), ``{repository}``, ``{run_id}``, ``{run_url}`` (GITHUB_SERVER_URL/repository/actions/runs/
run_id, empty unless repository and run id are known) and ``{date}`` (UTC, YYYY-MM-DD); ``{{`` and ``}}``
are literal braces. A name that renders empty is left unset (the platform names the run).

Thresholds: a server-side suite has no per-case results and its own ``passed`` verdict is always checked,
so only ``evaluations`` apply there: other keys written on the gate are errors, and those inherited from
``defaults.thresholds`` are dropped -- and no ``success_rate >= 100%`` is added when nothing is left.
Dataset and client-side suite gates take every key and fail closed like Cekura gates; they also get
``max_target_errors: 0`` unless they set it, so a test case the target failed is never a silent pass.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from runner.config_baseline import gate_comparison
from runner.config_target import TARGET_EXAMPLE, read_target
from runner.configfields import (
    FAIL_CLOSED,
    Fields,
    Section,
    describe,
    gate_blocking,
    gate_labels,
    gate_name,
    gate_thresholds,
    shown,
)
from runner.settings import Defaults, FreeplayGate, FreeplayMode
from runner.thresholds import THRESHOLD_KEYS
from runner.yamlpos import Map, Node, Scalar

FREEPLAY_KEYS = (
    "name",
    "provider",
    "project",
    "dataset",
    "suite",
    "suite_execution",
    "include_outputs",
    "flavor_name",
    "target_evaluation_ids",
    "environment",
    "test_run_name",
    "description",
    "target",
    "target_concurrency",
    "timeout",
    "thresholds",
    "labels",
    "blocking",
    "baseline",
    "statistics",
)
PLACEHOLDERS = ("gate", "sha", "short_sha", "branch", "repository", "run_id", "run_url", "date")
DEFAULT_TEST_RUN_NAME = "regate {gate} {short_sha}"
DEFAULT_TARGET_CONCURRENCY = 4
EXECUTIONS = ("server", "client")

F = FreeplayMode
_DATASET_ONLY = "{key!r} works in dataset gates: a suite run takes no such field"
_RUNS_TARGET = frozenset({F.DATASET, F.SUITE_CLIENT})
_SERVER_SUITE_TARGET = (
    "a server-side suite runs on Freeplay: remove {key!r}, or set suite_execution: client to run the "
    "suite's test cases with your own target"
)
# key -> (modes that accept it, hint when it is written in another mode)
MODE_KEYS: dict[str, tuple[frozenset[FreeplayMode], str]] = {
    "include_outputs": (frozenset({F.DATASET}), _DATASET_ONLY),
    "flavor_name": (frozenset({F.DATASET}), _DATASET_ONLY),
    "target_evaluation_ids": (frozenset({F.DATASET}), _DATASET_ONLY),
    "description": (frozenset({F.DATASET}), _DATASET_ONLY),
    "environment": (
        frozenset({F.SUITE, F.SUITE_CLIENT}),
        "'environment' works in suite gates: it picks the prompt version a suite runs",
    ),
    "target": (_RUNS_TARGET, _SERVER_SUITE_TARGET),
    "target_concurrency": (_RUNS_TARGET, _SERVER_SUITE_TARGET),
}
MODE_NAMES = {F.DATASET: "dataset", F.SUITE: "server-side suite", F.SUITE_CLIENT: "client-side suite"}
SERVER_SUITE_THRESHOLDS = ("evaluations",)
SERVER_SUITE_THRESHOLDS_HINT = (
    "a server-side suite reports no per-case results, and its own verdict (passed) is always checked: "
    "check evaluations, or set suite_execution: client"
)
SUITE_ID = re.compile(r"[A-Za-z0-9._~-]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
T = TypeVar("T")
D = TypeVar("D")


def run_context(env: Mapping[str, str], now: datetime) -> dict[str, str]:
    """The values of the template placeholders but ``{gate}``, from GitHub Actions variables in ``env``."""
    sha = env.get("GITHUB_SHA", "").strip()
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    run_id = env.get("GITHUB_RUN_ID", "").strip()
    server = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/") or "https://github.com"
    return {
        "sha": sha,
        "short_sha": sha[:7] or "local",
        "branch": env.get("GITHUB_HEAD_REF", "").strip() or env.get("GITHUB_REF_NAME", "").strip(),
        "repository": repository,
        "run_id": run_id,
        "run_url": f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else "",
        "date": now.astimezone(UTC).strftime("%Y-%m-%d"),
    }


def default_description(values: Mapping[str, str]) -> str:
    """``regate gate smoke; commit <sha> on main; <run url>``, without the parts that are unknown."""
    parts = [f"regate gate {values['gate']}"]
    sha, branch = values["sha"], values["branch"]
    if sha:
        parts.append(f"commit {sha}" + (f" on {branch}" if branch else ""))
    elif branch:
        parts.append(f"branch {branch}")
    if values["run_url"]:
        parts.append(values["run_url"])
    if not sha and not values["run_url"]:
        parts.append("local run")
    return "; ".join(parts)


def read_freeplay_gate(
    fields: Fields,
    node: Map,
    path: str,
    *,
    defaults: Defaults,
    base_dir: str,
    run: Mapping[str, str],
    foreign: Mapping[str, tuple[str, str]],
) -> FreeplayGate:
    """One gate whose ``provider`` is ``freeplay``; ``run`` holds the template values but ``{gate}``
    (``run_context``), ``foreign`` maps keys of other providers' gates to their (message, hint)."""
    return _FreeplayGate(fields, node, path, defaults, base_dir, foreign).read(run)


class _FreeplayGate:
    def __init__(
        self,
        fields: Fields,
        node: Map,
        path: str,
        defaults: Defaults,
        base_dir: str,
        foreign: Mapping[str, tuple[str, str]],
    ) -> None:
        self.fields = fields
        self.path = path
        self.defaults = defaults
        self.base_dir = base_dir
        self.s: Section = fields.section(node, path, FREEPLAY_KEYS, line=node.line, foreign=foreign)

    def sub(self, name: str) -> str:
        return self.s.sub(name)

    def _opt(self, read: Callable[[Node, str], T], name: str, default: D) -> T | D:
        node = self.s.get(name)
        return default if node is None else read(node, self.sub(name))

    def read(self, run: Mapping[str, str]) -> FreeplayGate:
        f, s = self.fields, self.s
        name = gate_name(s)
        project = f.uuid(
            s.require("project", hint="add project: <project id> (the UUID in your Freeplay project's URL)"),
            self.sub("project"),
            hint="the project id is the UUID in your Freeplay project's URL (.../projects/<project id>/...)",
        )
        mode = self._mode()
        for key, _ in s.node.entries:
            accepted = MODE_KEYS.get(key.text)
            if accepted is not None and mode not in accepted[0]:
                f.fail(
                    key,
                    self.path,
                    f"{key.text!r} is not accepted in a {MODE_NAMES[mode]} gate",
                    hint=accepted[1].format(key=key.text),
                )
        target = None
        if mode in _RUNS_TARGET:
            target_hint = f"a {MODE_NAMES[mode]} gate runs your agent on each test case: {TARGET_EXAMPLE}"
            target = read_target(f, s.require("target", hint=target_hint), self.sub("target"), self.base_dir)
        timeout = self._opt(f.duration, "timeout", self.defaults.timeout)
        accepted_thresholds = SERVER_SUITE_THRESHOLDS if mode is F.SUITE else THRESHOLD_KEYS
        thresholds = gate_thresholds(
            f,
            s.get("thresholds"),
            self.sub("thresholds"),
            self.defaults.thresholds,
            accepted=accepted_thresholds,
            rejected=lambda key: (
                f"{key!r} is not accepted in a {MODE_NAMES[mode]} gate",
                SERVER_SUITE_THRESHOLDS_HINT,
            ),
        )
        if thresholds.is_empty and mode is not F.SUITE:
            thresholds = FAIL_CLOSED
        if mode is not F.SUITE and thresholds.max_target_errors is None:
            # Fail closed: a case the target could not answer is never a pass, even when the only
            # thresholds written are on evaluations (which would otherwise just skip that case).
            thresholds = replace(thresholds, max_target_errors=0)
        values = {**run, "gate": name}
        test_run_name = self._template("test_run_name", values, DEFAULT_TEST_RUN_NAME)
        description = None  # suite runs take no description
        if mode is F.DATASET:
            written = self._template("description", values)
            description = written if "description" in s else default_description(values)
        return FreeplayGate(
            name=name,
            project=project,
            mode=mode,
            thresholds=thresholds,
            timeout=timeout,
            line=s.node.line,
            dataset=self._opt(lambda n, p: f.string(n, p, what="a dataset name"), "dataset", None),
            suite=self._opt(self._suite_id, "suite", None),
            target=target,
            target_concurrency=self._opt(
                lambda n, p: f.integer(n, p, minimum=1, maximum=64),
                "target_concurrency",
                DEFAULT_TARGET_CONCURRENCY,
            ),
            include_outputs=self._opt(f.boolean, "include_outputs", False),
            flavor_name=self._opt(lambda n, p: f.string(n, p, what="a flavor name"), "flavor_name", None),
            target_evaluation_ids=self._opt(self._evaluation_ids, "target_evaluation_ids", ()),
            environment=self._opt(
                lambda n, p: f.string(n, p, what="an environment name"), "environment", None
            ),
            test_run_name=test_run_name,
            description=description,
            labels=gate_labels(s),
            blocking=gate_blocking(s),
            **gate_comparison(f, s, self.defaults, self.base_dir, thresholds),
        )

    def _mode(self) -> FreeplayMode:
        f, s = self.fields, self.s
        if "dataset" in s and "suite" in s:
            second = max(("dataset", "suite"), key=lambda k: s.key_line(k))
            f.fail(
                s.entries[second][0],
                self.path,
                "'dataset' and 'suite' both select test cases",
                hint="keep one: dataset: <name> makes a test run of a dataset, suite: <id> runs a test suite",
            )
        if "dataset" not in s and "suite" not in s:
            f.fail(
                s.node,
                self.path,
                "no dataset or suite selected",
                hint="add dataset: <dataset name> or suite: <suite id>",
            )
        if "dataset" in s:
            if "suite_execution" in s:
                f.fail(
                    s.entries["suite_execution"][0],
                    self.path,
                    "'suite_execution' is not accepted in a dataset gate",
                    hint="it chooses where a suite runs (server or client); a dataset gate always runs "
                    "your target",
                )
            return F.DATASET
        execution = self._opt(
            lambda n, p: self.fields.choice(n, p, EXECUTIONS, what="suite_execution"),
            "suite_execution",
            "server",
        )
        return F.SUITE if execution == "server" else F.SUITE_CLIENT

    def _suite_id(self, node: Node, path: str) -> str:
        text = self.fields.string(node, path, what="a suite id").strip()
        if not SUITE_ID.fullmatch(text):
            self.fields.fail(
                node,
                path,
                f"expected a suite id, got {describe(node)}",
                hint="a suite id is the id Freeplay shows for the suite: letters, digits, '-', '_', '.', '~'",
            )
        return text

    def _evaluation_ids(self, node: Node, path: str) -> tuple[str, ...]:
        f = self.fields
        hint = "evaluation ids are UUIDs; to check an evaluation by name use thresholds: evaluations"
        ids: list[str] = []
        for item, item_path in f.items(node, path, "evaluation ids"):
            value = f.uuid(item, item_path, hint=hint)
            if value in ids:
                f.fail(item, item_path, f"duplicate evaluation id {value}", hint="list each evaluation once")
            ids.append(value)
        return tuple(ids)

    # -- templates -------------------------------------------------------------------------------------

    def _template(self, key: str, values: Mapping[str, str], default: str | None = None) -> str | None:
        """The rendered template at ``key`` (else ``default``); None if it renders blank."""
        node = self.s.get(key)
        if node is None:
            return None if default is None else render(default, values).strip() or None
        text = self.fields.string(node, self.sub(key), what="a template")
        return self._render(node, self.sub(key), text, values).strip() or None

    def _render(self, node: Node, path: str, text: str, values: Mapping[str, str]) -> str:
        f = self.fields
        listing = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        try:
            return render(text, values)
        except _TemplateError as exc:
            hint = f"placeholders: {listing}; write {{{{ and }}}} for literal braces"
            message = exc.message
            if isinstance(node, Scalar) and node.interpolated:  # never echo what came from the environment
                message = f"{exc.kind} in the template {shown(node)}"
            elif exc.name is not None and (close := difflib.get_close_matches(exc.name, PLACEHOLDERS, n=1)):
                hint = f"did you mean {{{close[0]}}}?"
            f.fail(node, path, message, hint=hint)


class _TemplateError(Exception):
    def __init__(self, kind: str, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.name = name


def render(template: str, values: Mapping[str, str]) -> str:
    """``{name}`` -> ``values[name]``; ``{{`` and ``}}`` are braces. Raises ``_TemplateError``."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            out.append(ch)
            i += 2
        elif ch == "{":
            m = _PLACEHOLDER.match(template, i)
            if m is None:
                raise _TemplateError("an unclosed '{'", "unclosed '{' in the template")
            name = m.group(1)
            if name not in values:
                kind = "unknown placeholder" if re.fullmatch(r"\w+", name) else "bad placeholder"
                raise _TemplateError(
                    kind, f"{kind} {m.group()!r}", name if kind == "unknown placeholder" else None
                )
            out.append(values[name])
            i = m.end()
        elif ch == "}":
            raise _TemplateError("a single '}'", "single '}' in the template: write }} for a literal '}'")
        else:
            out.append(ch)
            i += 1
    return "".join(out)
