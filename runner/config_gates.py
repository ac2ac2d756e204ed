"""The ``gates:`` list of a config: one ``CekuraGate`` per entry, faithful to api-contracts §A3, or a
``FreeplayGate`` for an entry with ``provider: freeplay`` (read by ``runner.config_freeplay``). A key of the
other provider's gates is an error that names the provider taking it.

Keys of a gate (``name`` and ``agent`` required; ``provider`` defaults to ``cekura``, ``mode`` to ``voice``)::

    name, provider, agent, mode, timeout, thresholds             every mode
    scenarios                                                    every mode but json
    tags, folder (+ project)                                     voice family: voice text elevenlabs sip chirp
    project                                                      voice family, retell, vapi
    personalities, test_profiles                                 voice family, pipecat, livekit
    frequency                                                    every mode but pipecat_v1 (at most 100 in
                                                                 websocket, pipecat, livekit, email)
    concurrency_limit                                            voice family, pipecat, livekit, retell,
                                                                 vapi, json
    mock_tool_names                                              every mode but email and json (their
                                                                 endpoints have no such field)
    websocket_url (text, chirp, websocket)   websocket_headers (text)   elevenlabs_agent_id (elevenlabs)
    sip_endpoint (sip)   retell_agent_id (retell)   vapi_assistant_id (vapi, required)   agent_email (email)
    spec (json, required: a JSON/YAML file relative to the config, or an inline mapping)   channel (json)

A key outside its modes is an error naming the modes that accept it. Scenario selection: exactly one of
``scenarios`` / ``tags`` / ``folder`` in the voice family, ``scenarios`` elsewhere, none in json mode.
``scenarios`` entries are ids; in websocket mode also ``{id, websocket_url}`` (every scenario needs a ws://
or wss:// URL, its own or the gate's -- the gate's is filled in), in pipecat_v1 mode ``{id,
pipecat_room_url}`` only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from runner.config_baseline import gate_comparison
from runner.config_freeplay import FREEPLAY_KEYS, read_freeplay_gate
from runner.config_writeback import read_write_back
from runner.configfields import (
    FAIL_CLOSED,
    Fields,
    describe,
    gate_blocking,
    gate_labels,
    gate_name,
    gate_thresholds,
    which_modes,
)
from runner.errors import ConfigError
from runner.settings import VOICE_FAMILY, CekuraGate, CekuraMode, Defaults, GateSpec, ScenarioRef
from runner.yamlpos import Map, Node, Scalar, Seq, load, to_plain

M = CekuraMode
_ALL = frozenset(CekuraMode)
_VOICE = VOICE_FAMILY
MODE_KEYS: dict[str, frozenset[CekuraMode]] = {
    "scenarios": _ALL - {M.JSON},
    "tags": _VOICE,
    "folder": _VOICE,
    "project": _VOICE | {M.RETELL, M.VAPI},
    "personalities": _VOICE | {M.PIPECAT, M.LIVEKIT},
    "test_profiles": _VOICE | {M.PIPECAT, M.LIVEKIT},
    "frequency": _ALL - {M.PIPECAT_V1},
    "concurrency_limit": _VOICE | {M.PIPECAT, M.LIVEKIT, M.RETELL, M.VAPI, M.JSON},
    "mock_tool_names": _ALL - {M.EMAIL, M.JSON},
    "websocket_url": frozenset({M.TEXT, M.CHIRP, M.WEBSOCKET}),
    "websocket_headers": frozenset({M.TEXT}),
    "elevenlabs_agent_id": frozenset({M.ELEVENLABS}),
    "sip_endpoint": frozenset({M.SIP}),
    "retell_agent_id": frozenset({M.RETELL}),
    "vapi_assistant_id": frozenset({M.VAPI}),
    "agent_email": frozenset({M.EMAIL}),
    "spec": frozenset({M.JSON}),
    "channel": frozenset({M.JSON}),
}
COMMON_KEYS = (
    *("name", "provider", "agent", "mode", "timeout", "thresholds"),
    *("labels", "blocking", "baseline", "statistics"),  # every provider's gates take these
)
GATE_KEYS = (
    *COMMON_KEYS,
    *MODE_KEYS,
    "write_back",
    "retries",
    "flaky",
)  # write_back: Cekura only (runs-external, test sets)
SELECTORS = ("scenarios", "tags", "folder")
FREQUENCY_CAPPED = frozenset({M.WEBSOCKET, M.PIPECAT, M.LIVEKIT, M.EMAIL})  # "integer 1-100" endpoints
JSON_CHANNELS = ("voice", "text", "elevenlabs", "livekit_v2", "pipecat_v2")
PROVIDERS = ("cekura", "freeplay")
FLAKY = ("pass", "fail")  # what a scenario that failed and then passed on retry counts as
MAX_RETRIES = 3
CEKURA_THRESHOLDS = ("success_rate", "max_failed_runs", "max_infra_errors", "metrics")
T = TypeVar("T")
D = TypeVar("D")


def read_gates(
    fields: Fields,
    node: Node | None,
    path: str,
    *,
    line: int,
    defaults: Defaults,
    providers: Mapping[str, bool],
    base_dir: str,
    run: Mapping[str, str],
) -> tuple[GateSpec, ...]:
    """All gates, in file order. ``providers`` tells which providers are configured; ``run`` holds the
    values of run-name templates (``config_freeplay.run_context``)."""
    hint = "add a 'gates:' list, e.g. gates: [{name: smoke, agent: 101, scenarios: [1, 2]}]"
    if node is None or (isinstance(node, Scalar) and node.value is None):
        fields.fail(line, path, "no gates: nothing to check", hint=hint)
    if not isinstance(node, Seq):
        fields.fail(node, path, f"expected a list of gates, got {describe(node)}", hint=hint)
    items = fields.items(node, path, "gates", allow_empty=True)
    if not items:
        fields.fail(node, path, "no gates: nothing to check", hint=hint)
    seen: dict[str, int] = {}
    gates: list[GateSpec] = []
    for item, item_path in items:
        if not isinstance(item, Map):
            fields.fail(
                item,
                item_path,
                f"expected a gate (a mapping with name, agent, scenarios, ...), got {describe(item)}",
                hint="write each gate as '- name: smoke' followed by its keys, indented",
            )
        provider = _provider(fields, item, item_path, providers)
        gate: GateSpec
        if provider == "freeplay":
            foreign = _foreign(GATE_KEYS, FREEPLAY_KEYS, "freeplay", "cekura", explicit=True)
            gate = read_freeplay_gate(
                fields, item, item_path, defaults=defaults, base_dir=base_dir, run=run, foreign=foreign
            )
        else:
            explicit = any(key.text == "provider" for key, _ in item.entries)
            foreign = _foreign(FREEPLAY_KEYS, GATE_KEYS, "cekura", "freeplay", explicit=explicit)
            gate = _Gate(fields, item, item_path, defaults, base_dir, foreign).read(provider)
        if gate.name in seen:
            name_line = _name_line(item)
            fields.fail(
                name_line,
                f"{item_path}.name",
                f"duplicate gate name {gate.name!r} (first on line {seen[gate.name]})",
                hint="gate names must be unique: they name JUnit suites and report files",
            )
        seen[gate.name] = _name_line(item)
        gates.append(gate)
    return tuple(gates)


def _provider(fields: Fields, item: Map, path: str, providers: Mapping[str, bool]) -> str:
    """The gate's provider (default cekura), which must be configured under ``providers``."""
    node = next((value for key, value in item.entries if key.text == "provider"), None)
    provider = (
        "cekura" if node is None else fields.choice(node, f"{path}.provider", PROVIDERS, what="provider")
    )
    if not providers.get(provider):
        fields.fail(
            node or item,
            f"{path}.provider" if node is not None else path,
            f"provider {provider!r} is not configured",
            hint=f"add providers: {{{provider}: {{api_key: ${{{provider.upper()}_API_KEY}}}}}}",
        )
    return provider


def _foreign(
    keys: tuple[str, ...], own: tuple[str, ...], this: str, other: str, *, explicit: bool
) -> dict[str, tuple[str, str]]:
    """(message, hint) for each key of ``other`` provider's gates that ``this`` provider's gates lack."""
    add = "" if explicit else f": add provider: {other}"
    foreign = {
        key: (f"{key!r} is not accepted in a {this} gate", f"{key!r} works in {other} gates{add}")
        for key in keys
        if key not in own
    }
    if "mode" in foreign:
        foreign["mode"] = (
            foreign["mode"][0],
            "a freeplay gate's mode follows from dataset or suite (and suite_execution)",
        )
    return foreign


def _name_line(node: Node) -> int:
    assert isinstance(node, Map)  # noqa: S101 (read() checked it)
    return next(key.line for key, _ in node.entries if key.text == "name")


class _Gate:
    """Reads one Cekura gate entry; methods share the entry's section and mode."""

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
        self.node = node
        self.path = path
        self.defaults = defaults
        self.base_dir = base_dir
        self.s = fields.section(node, path, GATE_KEYS, line=node.line, foreign=foreign)
        self.mode = M.VOICE

    def get(self, name: str) -> Node | None:
        return self.s.get(name)

    def sub(self, name: str) -> str:
        return self.s.sub(name)

    def read(self, provider: str) -> CekuraGate:
        f, s = self.fields, self.s
        name = gate_name(s)
        if (node := s.get("mode")) is not None:
            self.mode = M(f.choice(node, self.sub("mode"), [m.value for m in M], what="mode"))
        for key, _ in self.s.node.entries:
            modes = MODE_KEYS.get(key.text)
            if modes is not None and self.mode not in modes:
                accepted = [m.value for m in M if m in modes]
                f.fail(
                    key,
                    self.path,
                    f"{key.text!r} is not accepted in {self.mode.value} mode",
                    hint=f"{key.text!r} works in {which_modes(accepted, [m.value for m in M])}",
                )
        agent = f.integer(s.require("agent", hint="add agent: <agent id>"), self.sub("agent"), minimum=1)
        timeout = self.defaults.timeout
        if (node := s.get("timeout")) is not None:
            timeout = f.duration(node, self.sub("timeout"))
        thresholds = gate_thresholds(
            f,
            s.get("thresholds"),
            self.sub("thresholds"),
            self.defaults.thresholds,
            accepted=CEKURA_THRESHOLDS,
            rejected=lambda key: (
                f"{key!r} is not accepted in a cekura gate",
                f"{key!r} works in freeplay gates",
            ),
        )
        self._check_selectors()
        websocket_url = self._opt(self._ws_url, "websocket_url", None)
        return CekuraGate(
            name=name,
            agent=agent,
            mode=self.mode,
            thresholds=FAIL_CLOSED if thresholds.is_empty else thresholds,
            timeout=timeout,
            line=s.node.line,
            scenarios=self._scenarios(websocket_url),
            tags=self._opt(lambda n, p: f.str_list(n, p, "tags"), "tags", ()),
            folder=self._opt(
                lambda n, p: f.string(n, p, what="a folder path such as Sales.Inbound"), "folder", None
            ),
            project=self._opt(lambda n, p: f.integer(n, p, minimum=1), "project", None),
            frequency=self._opt(self._frequency, "frequency", None),
            personalities=self._opt(lambda n, p: f.int_list(n, p, "personality ids"), "personalities", ()),
            test_profiles=self._opt(lambda n, p: f.int_list(n, p, "test profile ids"), "test_profiles", ()),
            concurrency_limit=self._opt(lambda n, p: f.integer(n, p, minimum=1), "concurrency_limit", None),
            mock_tool_names=self._opt(
                lambda n, p: f.str_list(n, p, "tool names", allow_empty=True), "mock_tool_names", None
            ),
            websocket_url=websocket_url,
            websocket_headers=self._opt(f.headers, "websocket_headers", ()),
            elevenlabs_agent_id=self._opt(f.string, "elevenlabs_agent_id", None),
            sip_endpoint=self._opt(f.string, "sip_endpoint", None),
            retell_agent_id=self._opt(f.string, "retell_agent_id", None),
            vapi_assistant_id=self._opt(f.string, "vapi_assistant_id", None),
            agent_email=self._opt(self._email, "agent_email", None),
            spec_json=self._opt(self._spec, "spec", None),
            channel=self._opt(lambda n, p: f.choice(n, p, JSON_CHANNELS, what="channel"), "channel", None),
            provider=provider,
            labels=gate_labels(s),
            blocking=gate_blocking(s),
            **gate_comparison(f, s, self.defaults, self.base_dir, thresholds),
            write_back=read_write_back(
                f, s.get("write_back"), self.sub("write_back"), self.defaults.write_back
            ),
            retries=self._retries(),
            flaky=self._opt(lambda n, p: f.choice(n, p, FLAKY, what="flaky policy"), "flaky", "pass"),
        )

    def _opt(self, read: Callable[[Node, str], T], name: str, default: D) -> T | D:
        node = self.get(name)
        return default if node is None else read(node, self.sub(name))

    def _retries(self) -> int:
        node = self.get("retries")
        if node is None:
            return 0
        retries = self.fields.integer(node, self.sub("retries"), minimum=0, maximum=MAX_RETRIES)
        if retries and self.mode is M.JSON:
            self.fields.fail(
                node,
                self.sub("retries"),
                "retries re-run failed scenarios by id, which a tests-as-code spec run does not have",
                hint="remove retries, or raise frequency in the spec",
            )
        return retries

    def _check_selectors(self) -> None:
        f, s, mode = self.fields, self.s, self.mode
        present = [k for k in SELECTORS if k in s]
        if mode is M.JSON:
            s.require("spec", hint="spec: path/to/suite.json (relative to this config) or an inline mapping")
            return
        if mode is M.VAPI:
            s.require(
                "vapi_assistant_id", hint="the Vapi assistant to call, e.g. vapi_assistant_id: asst_123"
            )
        if not present:
            add = (
                "one of 'scenarios', 'tags' or 'folder'"
                if mode in _VOICE
                else "scenarios: [<scenario id>, ...]"
            )
            f.fail(s.node, self.path, "no scenarios selected", hint=f"add {add}")
        if len(present) > 1:
            f.fail(
                s.entries[present[1]][0],
                self.path,
                f"{present[0]!r} and {present[1]!r} both select scenarios",
                hint="keep exactly one of scenarios, tags or folder",
            )
        if "folder" in s and "project" not in s:
            f.fail(
                s.get("folder"),
                self.sub("folder"),
                "a folder needs 'project' (the id of the project the folder belongs to)",
                hint="add project: <project id>",
            )

    def _scenarios(self, gate_url: str | None) -> tuple[ScenarioRef, ...]:
        node = self.get("scenarios")
        if node is None:
            return ()
        refs = []
        for item, path in self.fields.items(node, self.sub("scenarios"), "scenario ids"):
            refs.append(self._scenario(item, path, gate_url))
        return tuple(refs)

    def _scenario(self, node: Node, path: str, gate_url: str | None) -> ScenarioRef:
        f, mode = self.fields, self.mode
        extra = {M.WEBSOCKET: "websocket_url", M.PIPECAT_V1: "pipecat_room_url"}.get(mode)
        if isinstance(node, Map) and extra is not None:
            entry = f.section(node, path, ("id", extra), line=node.line)
            ref_id = f.integer(entry.require("id", hint="add id: <scenario id>"), entry.sub("id"), minimum=1)
            url_node = entry.get(extra)
        elif isinstance(node, Map):
            f.fail(
                node,
                path,
                f"expected a scenario id (an integer), got {describe(node)}",
                hint="only websocket and pipecat_v1 gates take {id: ..., <url>: ...} entries",
            )
        else:
            ref_id, url_node = f.integer(node, path, minimum=1), None
        if mode is M.WEBSOCKET:
            url = gate_url if url_node is None else self._ws_url(url_node, f"{path}.websocket_url")
            if url is None:
                f.fail(
                    node,
                    path,
                    f"scenario {ref_id} has no websocket_url",
                    hint=f"set the gate's websocket_url, or write {{id: {ref_id}, websocket_url: wss://...}}",
                )
            return ScenarioRef(ref_id, websocket_url=url)
        if mode is M.PIPECAT_V1:
            if url_node is None:
                f.fail(
                    node,
                    path,
                    f"scenario {ref_id} needs a pipecat_room_url in pipecat_v1 mode",
                    hint=f"write {{id: {ref_id}, pipecat_room_url: https://...}}",
                )
            room, _ = f.url(
                url_node,
                f"{path}.pipecat_room_url",
                ("https", "http"),
                example="https://example.daily.co/room",
                allow_query=True,
            )
            return ScenarioRef(ref_id, pipecat_room_url=room)
        return ScenarioRef(ref_id)

    def _ws_url(self, node: Node, path: str) -> str:
        url, _ = self.fields.url(
            node, path, ("wss", "ws"), example="wss://agent.example.com/ws", allow_query=True
        )
        return url

    def _frequency(self, node: Node, path: str) -> int:
        cap = 100 if self.mode in FREQUENCY_CAPPED else None
        return self.fields.integer(node, path, minimum=1, maximum=cap)

    def _email(self, node: Node, path: str) -> str:
        text = self.fields.string(node, path, what="an email address")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
            self.fields.fail(node, path, f"expected an email address, got {describe(node)}")
        return text

    def _spec(self, node: Node, path: str) -> str:
        """The test-suite spec as compact JSON, from an inline mapping or a JSON/YAML file."""
        f = self.fields
        if isinstance(node, Map):
            data = to_plain(node)
        else:
            written = f.string(node, path, what="a path to a JSON or YAML spec file, or an inline mapping")
            data = _load_spec(f, node, path, written, os.path.normpath(os.path.join(self.base_dir, written)))
        if not isinstance(data, dict):
            f.fail(node, path, f"the spec must be a mapping (a test-suite spec), got {describe_plain(data)}")
        scenarios = data.get("scenarios")
        if not isinstance(scenarios, list) or not scenarios:
            f.fail(
                node,
                path,
                "the spec has no scenarios",
                hint='a test-suite spec has version: "1" and a list of 1-200 scenarios',
            )
        try:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            f.fail(node, path, "the spec holds a value JSON cannot represent (NaN or infinity)")


def _load_spec(f: Fields, node: Node, path: str, written: str, resolved: str) -> object:
    try:
        with open(resolved, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        f.fail(
            node,
            path,
            f"spec file {written!r} not found",
            hint=f"paths are relative to the config file; looked for {resolved}",
        )
    except OSError as exc:
        f.fail(node, path, f"cannot read spec file {written!r}: {exc.strerror or exc}")
    except ValueError:  # a NUL byte in the path
        f.fail(node, path, "the spec path contains a NUL character", hint="write a plain file path")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        f.fail(node, path, f"spec file {written!r} is not UTF-8 text")
    if resolved.lower().endswith(".json"):
        try:
            return json.loads(text)
        except RecursionError:
            raise ConfigError(
                "the JSON nests too deeply", file=resolved, hint=f"this file is the spec of {path}"
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"invalid JSON: {exc.msg} (column {exc.colno})",
                file=resolved,
                line=exc.lineno,
                hint=f"this file is the spec of {path} ({f.file}:{node.line})",
            ) from None
    spec = load(text, file=resolved, env={}, interpolate=False)
    return None if spec is None else to_plain(spec)


def describe_plain(value: object) -> str:
    return {list: "a list", str: "a string", type(None): "an empty file"}.get(
        type(value), type(value).__name__
    )
