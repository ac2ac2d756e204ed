"""The ``target`` of a Freeplay gate: the agent under test, run once per test case.

Exactly one of ``command`` or ``url``::

    target:
      command: [python, agent.py]     # argv, no shell; or a string split like a shell would (shlex.split):
                                      # "python agent.py --style 'short answer'"
      timeout: 60s                    # per test case (the default)
      cwd: agent                      # relative to the config file; the default is the config's directory;
                                      # must exist; stored absolute
      env: {MODEL: small}             # added to regate's own environment; values are text as written, and
                                      # ${VAR} works as everywhere in the config
    target:
      url: http://127.0.0.1:8000/run  # one POST per test case; a query is kept
      timeout: 2m
      headers: {X-Tenant: "42"}

Unlike a provider's ``base_url``, a target ``url`` may be ``http://`` to any host: an agent under test is
often on a private network or a local port, and no regate API key travels to it.
"""

from __future__ import annotations

import os
import re
import shlex

from runner.configfields import Fields, describe
from runner.settings import CommandTarget, HttpTarget, TargetSpec
from runner.yamlpos import Map, Node, Scalar, Seq

TARGET_KEYS = ("command", "url", "timeout", "cwd", "env", "headers")
DEFAULT_TARGET_TIMEOUT = 60.0
TARGET_EXAMPLE = "e.g. target: {command: [python, agent.py]} or target: {url: http://127.0.0.1:8000/run}"
COMMAND_EXAMPLE = "e.g. command: [python, agent.py] or command: python agent.py"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_target(f: Fields, node: Node, path: str, base_dir: str) -> TargetSpec:
    """A gate's ``target``: a ``CommandTarget`` or an ``HttpTarget`` (see the module docstring)."""
    if not isinstance(node, Map):
        f.fail(
            node,
            path,
            f"expected a target (a mapping with command or url), got {describe(node)}",
            hint=TARGET_EXAMPLE,
        )
    t = f.section(node, path, TARGET_KEYS, line=node.line)
    if "command" in t and "url" in t:
        second = max(("command", "url"), key=lambda k: t.key_line(k))
        f.fail(
            t.entries[second][0],
            path,
            "'command' and 'url' both define the target",
            hint="keep one: a command runs once per test case, a url gets one POST per test case",
        )
    if "command" not in t and "url" not in t:
        f.fail(t.node, path, "the target needs 'command' or 'url'", hint=TARGET_EXAMPLE)
    timeout = DEFAULT_TARGET_TIMEOUT
    if (timeout_node := t.get("timeout")) is not None:
        timeout = f.duration(timeout_node, t.sub("timeout"))
    kind, other, wrong = (
        ("command", "url", ("headers",)) if "command" in t else ("url", "command", ("cwd", "env"))
    )
    for key in wrong:
        if key in t:
            f.fail(
                t.entries[key][0],
                path,
                f"{key!r} is not accepted in a {kind} target",
                hint=f"{key!r} works in {other} targets",
            )
    if kind == "url":
        url, _ = f.url(
            t.require("url"),
            t.sub("url"),
            ("https", "http"),
            example="http://127.0.0.1:8000/run",
            allow_query=True,
            credentials_hint="send credentials in headers, e.g. {Authorization: Bearer ${AGENT_TOKEN}}",
        )
        headers = () if (h := t.get("headers")) is None else f.headers(h, t.sub("headers"))
        return HttpTarget(url=url, timeout=timeout, headers=headers)
    command = _command(f, t.require("command"), t.sub("command"))
    cwd = os.path.abspath(base_dir)
    if (cwd_node := t.get("cwd")) is not None:
        cwd = _cwd(f, cwd_node, t.sub("cwd"), base_dir)
    env = () if (e := t.get("env")) is None else _env(f, e, t.sub("env"))
    return CommandTarget(command=command, timeout=timeout, cwd=cwd, env=env)


def _command(f: Fields, node: Node, path: str) -> tuple[str, ...]:
    if isinstance(node, Scalar) and isinstance(node.value, str):
        try:
            argv = shlex.split(node.text)
        except ValueError as exc:
            f.fail(
                node,
                path,
                f"cannot split the command: {exc}",
                hint="check the quotes, or write the command as a list, e.g. [python, agent.py]",
            )
    elif not isinstance(node, Seq):
        f.fail(
            node,
            path,
            f"expected a command (a list of arguments, or a string), got {describe(node)}",
            hint=COMMAND_EXAMPLE,
        )
    else:
        argv = []
        for item, item_path in f.items(node, path, "command arguments"):
            argv.append(f.scalar(item, item_path, "a command argument").text)
    if not argv or not argv[0].strip():
        f.fail(node, path, "the command is empty", hint=COMMAND_EXAMPLE)
    if any("\0" in arg for arg in argv):
        f.fail(node, path, "the command contains a NUL character")
    return tuple(argv)


def _cwd(f: Fields, node: Node, path: str, base_dir: str) -> str:
    written = f.string(node, path, what="a directory")
    resolved = os.path.abspath(os.path.join(base_dir, written))
    if not os.path.exists(resolved):
        f.fail(
            node,
            path,
            f"directory {written!r} not found",
            hint=f"paths are relative to the config file; looked for {resolved}",
        )
    if not os.path.isdir(resolved):
        f.fail(node, path, f"{written!r} is not a directory", hint="cwd names a directory")
    return resolved


def _env(f: Fields, node: Node, path: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, Map):
        f.fail(
            node,
            path,
            f"expected a mapping of variable names to values, got {describe(node)}",
            hint="e.g. env: {MODEL: small, API_URL: ${API_URL}}",
        )
    env = []
    for key, value in node.entries:
        if not ENV_NAME.fullmatch(key.text):
            f.fail(
                key,
                path,
                f"invalid environment variable name {key.text!r}",
                hint="names are letters, digits and '_', not starting with a digit",
            )
        text = f.scalar(value, f"{path}.{key.text}", "a value (write '' for an empty one)").text
        if "\0" in text:
            f.fail(value, f"{path}.{key.text}", "the value contains a NUL character")
        env.append((key.text, text))
    return tuple(env)
