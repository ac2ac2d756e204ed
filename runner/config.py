"""Config v1: read a YAML file into frozen ``settings`` dataclasses, or fail with one located ``ConfigError``.

Shape (every key but ``version`` and ``gates`` is optional)::

    version: 1
    simulator: {world: worlds/demo.yaml, speed: 20, seed: 7, faults: "results:429@0.1"}
    providers:                                # either or both
      cekura:
        base_url: https://api.cekura.ai       # the default; or `simulator` for the embedded simulator
        api_key: ${CEKURA_API_KEY}            # required unless base_url is `simulator` ("sim-key")
      freeplay:
        base_url: https://app.freeplay.ai     # the default: the app root; or `simulator`
        api_key: ${FREEPLAY_API_KEY}          # required unless base_url is `simulator` ("sim-key")
    defaults:
      timeout: 30m                            # per-gate deadline
      overall_timeout: 1h                     # the whole run; none by default
      request_timeout: 30s
      concurrency: 4                          # gates in flight, 1..1000
      poll: {initial: 5s, max: 30s, multiplier: 1.5, heartbeat: 30s}
      retry: {attempts: 3, base: 1s, max: 30s, budget: 20, max_retry_after: 2m}
      thresholds: {success_rate: ">= 90%"}    # see runner.thresholds for the language
    gates:                                    # see runner.config_gates and runner.config_freeplay
      - {name: smoke, agent: 101, scenarios: [1, 2, 3], thresholds: {max_failed_runs: 1}}
      - {name: qa, provider: freeplay, project: <uuid>, dataset: golden, target: {command: [python, a.py]}}

Rules:

- Parsing is ``yaml.SafeLoader`` with positions, duplicate-key errors and ``${VAR}`` / ``${VAR:-default}``
  interpolation in values (see ``runner.yamlpos``). Relative paths (``simulator.world``, a gate's ``spec``)
  are relative to the config file.
- Top-level keys starting with ``x-`` are ignored: a home for YAML anchors (``x-common: &common {...}``,
  then ``<<: *common`` in gates), as in docker compose.
- Durations: ``250ms``, ``30s``, ``5m``, ``1h``, ``1h30m``, a bare number is seconds; all must be > 0.
- A gate's thresholds are ``merge_thresholds(defaults.thresholds, gate.thresholds)``. **If that leaves no
  check at all, the gate requires ``success_rate >= 100%``**: a gate without checks must not pass vacuously
  (for a Freeplay dataset or client-side suite gate: every test case must run and be recorded). The one
  exception is a server-side Freeplay suite, which has no per-case results: the suite's own ``passed`` is
  its implicit check, so nothing is added. Keys that do not apply to a kind of gate (``evaluations`` and
  ``max_target_errors`` on Cekura gates; all but ``evaluations`` on a server-side suite) are errors on the
  gate and are dropped when inherited from ``defaults.thresholds``.
- ``base_url`` is an http(s) URL without credentials, query or fragment (a trailing ``/`` is dropped);
  ``http://`` only to a loopback host, since the API key would otherwise travel in clear text, unless the
  provider sets ``allow_insecure_http: true`` (e.g. a platform behind a TLS-terminating proxy on a private
  network); ``regate run`` then says so in a warning line. Freeplay's
  is the app root: a pasted API root (``https://acme.freeplay.ai/api/v2``, or the SDK's ``.../api``) is
  accepted and cut back to ``https://acme.freeplay.ai``. With ``simulator`` for both providers, one
  embedded simulator serves both.
- ``api_key`` is one line of visible ASCII (it travels in an HTTP header, where a line break or a control
  character would be refused by the HTTP library with the header's value in its message).
- Nothing here touches the network, and no message contains the API key: values that came from the
  environment are shown as written (``'${CEKURA_API_KEY}'``), the key itself never.

Every error reads ``<file>:<line>: <key path>: <message>`` (the key path and line when known), e.g.
``regate.yaml:14: gates[1].thresholds.success_rate: rate 90 is above 1: a rate without % is a fraction``,
with a hint such as ``write 90% or 0.9``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from runner.config_baseline import read_baseline, read_statistics
from runner.config_freeplay import run_context
from runner.config_gates import read_gates
from runner.config_writeback import read_write_back
from runner.configfields import Fields, Section, describe, did_you_mean, shown
from runner.durations import format_duration, parse_duration
from runner.errors import ConfigError
from runner.settings import (
    DEFAULT_CEKURA_URL,
    DEFAULT_FREEPLAY_URL,
    SIMULATOR,
    CekuraSettings,
    Config,
    Defaults,
    FreeplaySettings,
    PollPolicy,
    RetryPolicy,
    Secret,
    SimulatorSettings,
)
from runner.yamlpos import Map, Node, Scalar, Seq, load

__all__ = ["insecure_http_providers", "is_loopback", "load_config", "parse_duration", "secret_values"]

CONFIG_VERSION = 1
TOP_KEYS = ("version", "simulator", "providers", "defaults", "gates")
PROVIDER_KEYS = ("cekura", "freeplay")
PROVIDER_SETTING_KEYS = ("base_url", "api_key", "allow_insecure_http")
SIMULATOR_KEYS = ("world", "speed", "seed", "faults")
DEFAULTS_KEYS = (
    "timeout",
    "overall_timeout",
    "request_timeout",
    "concurrency",
    "poll",
    "retry",
    "thresholds",
    "baseline",
    "statistics",
    "write_back",
)
POLL_KEYS = ("initial", "min", "max", "multiplier", "heartbeat")
RETRY_KEYS = ("attempts", "base", "max", "budget", "max_retry_after", "rate_limit")
MAX_CONCURRENCY = 1000  # results in flight; requests stay bounded by the pool and retry.rate_limit
SIM_KEY = "sim-key"  # what the embedded simulator accepts when no api_key is given


def load_config(path: str, env: Mapping[str, str], *, now: datetime | None = None) -> Config:
    """Read and validate the config at ``path``; ``env`` supplies ``${VAR}`` values and the GitHub Actions
    variables of run-name templates, ``now`` (default: the current time) their ``{date}``.

    Raises ``ConfigError`` (and nothing else) for any problem with the file.
    """
    root = load(_read_text(path), file=path, env=env)
    secrets = secret_values(root, env)
    fields = Fields(path, secrets=secrets)
    if root is None:
        fields.fail(None, "", "the file is empty", hint="a config starts with 'version: 1' and lists 'gates'")
    if not isinstance(root, Map):
        fields.fail(
            root,
            "",
            f"the top level must be a mapping of keys ({', '.join(TOP_KEYS)}), got {describe(root)}",
            hint="start the file with 'version: 1'",
        )
    _check_version(fields, root)  # first: a config of another version may have other keys
    top = fields.section(root, "", TOP_KEYS, line=root.line, extensions=True)
    base_dir = os.path.dirname(path)
    simulator = _simulator(fields, top, base_dir)
    cekura, freeplay = _providers(fields, top)
    defaults = _defaults(fields, top, base_dir)
    gates = read_gates(
        fields,
        top.get("gates"),
        "gates",
        line=top.key_line("gates") if "gates" in top else root.line,
        defaults=defaults,
        providers={"cekura": cekura is not None, "freeplay": freeplay is not None},
        base_dir=base_dir,
        run=run_context(env, now or datetime.now(UTC)),
    )
    return Config(
        path=path,
        version=CONFIG_VERSION,
        simulator=simulator,
        cekura=cekura,
        defaults=defaults,
        gates=gates,
        freeplay=freeplay,
        secrets=tuple(secrets),
    )


# Variables whose values are treated as secrets in messages: by name, or by where they are used.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|AUTH|CREDENTIAL|PRIVATE|COOKIE|SESSION", re.IGNORECASE)
_SECRET_PATH = re.compile(r"(?:^|\.)(?:api_key|headers\.[^.]+|websocket_headers\.[^.]+|env\.[^.]+)$")


def secret_values(root: Node | None, env: Mapping[str, str]) -> list[str]:
    """The values of the variables that may hold secrets: those named like one (``*_API_KEY``, ``*TOKEN*``,
    ...) and those used in an ``api_key``, a header or a target's ``env``. Messages mask them."""
    found: set[str] = set()

    def visit(node: Node | None, path: str) -> None:
        if isinstance(node, Map):
            for key, value in node.entries:
                visit(value, f"{path}.{key.text}" if path else key.text)
        elif isinstance(node, Seq):
            for item in node.items:
                visit(item, path)
        elif node is not None and node.variables:
            secret_place = _SECRET_PATH.search(path) is not None
            for name in node.variables:
                if (secret_place or _SECRET_NAME.search(name)) and env.get(name):
                    found.add(env[name].strip())
                    found.add(env[name])

    visit(root, "")
    return sorted(v for v in found if v)


def _check_version(fields: Fields, root: Map) -> None:
    node = next((value for key, value in root.entries if key.text == "version"), None)
    if node is None:
        fields.fail(root.line, "", "missing required key 'version'", hint="add 'version: 1' at the top")
    version = node.value if isinstance(node, Scalar) else None
    if not isinstance(version, int) or isinstance(version, bool):
        fields.fail(node, "version", f"expected the integer 1, got {describe(node)}", hint="write version: 1")
    if version != CONFIG_VERSION:
        fields.fail(
            node,
            "version",
            f"unsupported config version {version}",
            hint=f"this regate reads version {CONFIG_VERSION} configs",
        )


def _read_text(path: str) -> str:
    def fail(message: str, hint: str | None = None, line: int | None = None) -> ConfigError:
        return ConfigError(message, file=path, line=line, hint=hint)

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise fail(
            "config file not found", hint="check the path (relative to the current directory)"
        ) from None
    except IsADirectoryError:
        raise fail("is a directory, not a config file", hint="name the YAML file itself") from None
    except PermissionError:
        raise fail("cannot read the config file: permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read the config file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
            line=line,
        ) from None


def _simulator(fields: Fields, top: Section, base_dir: str) -> SimulatorSettings:
    sim = fields.section(top.get("simulator"), "simulator", SIMULATOR_KEYS, line=1)
    world = None
    if (node := sim.get("world")) is not None:
        written = fields.string(node, sim.sub("world"), what="a path to a world YAML file")
        world = os.path.normpath(os.path.join(base_dir, written))
        if not os.path.isfile(world):
            scalar = fields.scalar(node, sim.sub("world"), "a path")
            fields.fail(
                node, sim.sub("world"), f"world file {shown(scalar)} not found", hint=_relative_hint(world)
            )
    defaults = SimulatorSettings()
    speed, seed = defaults.speed, defaults.seed
    if (node := sim.get("speed")) is not None:
        speed = fields.number(node, sim.sub("speed"), above=0)
    if (node := sim.get("seed")) is not None:
        seed = fields.integer(node, sim.sub("seed"), minimum=0)
    faults = None
    if (node := sim.get("faults")) is not None and not _is_null(node):
        faults = fields.string(node, sim.sub("faults"), what="a fault spec")
    return SimulatorSettings(world=world, speed=speed, seed=seed, faults=faults)


def _providers(fields: Fields, top: Section) -> tuple[CekuraSettings | None, FreeplaySettings | None]:
    node = top.get("providers")
    if node is None:
        return None, None
    providers = fields.section(node, "providers", PROVIDER_KEYS, line=top.key_line("providers"))
    cekura = freeplay = None
    if "cekura" in providers:
        url, key, insecure, source = _provider(fields, providers, "cekura", DEFAULT_CEKURA_URL)
        cekura = CekuraSettings(
            base_url=url, api_key=key, allow_insecure_http=insecure, api_key_source=source
        )
    if "freeplay" in providers:
        url, key, insecure, source = _provider(fields, providers, "freeplay", DEFAULT_FREEPLAY_URL)
        freeplay = FreeplaySettings(
            base_url=_app_root(url), api_key=key, allow_insecure_http=insecure, api_key_source=source
        )
    return cekura, freeplay


def _provider(
    fields: Fields, providers: Section, name: str, default_url: str
) -> tuple[str, Secret, bool, str]:
    """``base_url``, ``api_key``, ``allow_insecure_http`` of one provider (both take the same keys), and
    where the key came from, for messages: ``${VAR}`` as written, never the value."""
    path = providers.sub(name)
    section = fields.section(providers.get(name), path, PROVIDER_SETTING_KEYS, line=providers.key_line(name))
    insecure = False
    if (node := section.get("allow_insecure_http")) is not None and not _is_null(node):
        insecure = fields.boolean(node, section.sub("allow_insecure_http"))
    base_url = default_url
    if (url_node := section.get("base_url")) is not None:
        base_url = _base_url(fields, url_node, section.sub("base_url"), default_url, insecure=insecure)
    variable = f"{name.upper()}_API_KEY"
    key_node = section.get("api_key")
    if key_node is None:
        if base_url == SIMULATOR:
            return base_url, Secret(SIM_KEY), insecure, "the simulator's default key"
        section.require("api_key", hint=f"add api_key: ${{{variable}}} and export {variable}")
    assert key_node is not None  # noqa: S101 (require() raised otherwise)
    key = _api_key(fields, key_node, section.sub("api_key"), name, variable)
    names = key_node.variables if isinstance(key_node, Scalar) else ()
    source = " and ".join(f"${{{n}}}" for n in names) if names else "a literal in the config file"
    return base_url, Secret(key), insecure, source


def _app_root(base_url: str) -> str:
    """Freeplay's base_url is the app root: a pasted API root (``.../api/v2`` or the SDK's ``.../api``)
    is cut back to it, since the provider appends ``/api/v2`` itself."""
    if base_url == SIMULATOR:
        return base_url
    for suffix in ("/api/v2", "/api"):
        if base_url.endswith(suffix):
            return base_url.removesuffix(suffix).rstrip("/")
    return base_url


def _api_key(fields: Fields, node: Node, path: str, provider: str, variable: str) -> str:
    """The key's text. Messages here describe the value by type and variable name only, never by content."""
    if not isinstance(node, Scalar):
        fields.fail(node, path, f"expected a string, got {describe(node)}", hint=f"api_key: ${{{variable}}}")
    key = node.text.strip()
    if not key:
        if node.variables:
            names = " and ".join(node.variables)
            fields.fail(
                node,
                path,
                f"api_key is empty: {names} {'is' if len(node.variables) == 1 else 'are'} set but empty",
                hint=f"export {node.variables[0]} with your {provider.capitalize()} API key",
            )
        fields.fail(node, path, "api_key is empty", hint=f"api_key: ${{{variable}}}")
    if not all("!" <= ch <= "~" for ch in key):  # never name the character: it is part of the key
        source = " and ".join(node.variables) if node.variables else "the value"
        fields.fail(
            node,
            path,
            "api_key must be one line of visible ASCII characters (no spaces, line breaks or control"
            " characters)",
            hint=f"check {source}: copy the {provider.capitalize()} API key again, without extra characters",
        )
    return key


def _base_url(fields: Fields, node: Node, path: str, default_url: str, *, insecure: bool) -> str:
    if isinstance(node, Scalar) and node.text.strip() == SIMULATOR:
        return SIMULATOR
    if isinstance(node, Scalar) and "://" not in node.text and "@" not in node.text:
        close = did_you_mean(node.text, [SIMULATOR])
        if close.startswith("did you"):
            fields.fail(node, path, f"expected an https URL or 'simulator', got {describe(node)}", hint=close)
    text, parts = fields.url(node, path, ("https", "http"), example=f"{default_url}, or 'simulator'")
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname or ""):
        option = path.rpartition(".")[0] + ".allow_insecure_http"
        fields.fail(
            node,
            path,
            f"http:// is only allowed to a loopback host, not {parts.hostname!r}",
            hint=f"use https://: over http the API key would travel in clear text"
            f" (if that is acceptable on your network, set {option}: true)",
        )
    return text.rstrip("/")


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_http_providers(config: Config) -> list[tuple[str, str]]:
    """``(provider, host)`` of each provider that sends its API key over http:// to a non-loopback host
    (allowed only by ``allow_insecure_http: true``): ``regate run`` warns about each."""
    found = []
    for name, settings in (("cekura", config.cekura), ("freeplay", config.freeplay)):
        if settings is None or not settings.base_url.startswith("http://"):
            continue
        host = urlsplit(settings.base_url).hostname or ""
        if not is_loopback(host):
            found.append((name, host))
    return found


def _defaults(fields: Fields, top: Section, base_dir: str) -> Defaults:
    d = fields.section(top.get("defaults"), "defaults", DEFAULTS_KEYS, line=1)
    base = Defaults()

    def duration(section: Section, name: str, default: float) -> float:
        node = section.get(name)
        return default if node is None else fields.duration(node, section.sub(name))

    overall = None
    if (node := d.get("overall_timeout")) is not None and not _is_null(node):
        overall = fields.duration(node, d.sub("overall_timeout"))
    concurrency = base.concurrency
    if (node := d.get("concurrency")) is not None:
        concurrency = fields.integer(node, d.sub("concurrency"), minimum=1, maximum=MAX_CONCURRENCY)

    poll = fields.section(d.get("poll"), d.sub("poll"), POLL_KEYS, line=d.node.line)
    p0 = PollPolicy()
    multiplier = p0.multiplier
    if (node := poll.get("multiplier")) is not None:
        multiplier = fields.number(node, poll.sub("multiplier"), minimum=1)
    maximum = duration(poll, "max", p0.maximum)
    poll_policy = PollPolicy(
        initial=duration(poll, "initial", p0.initial),
        maximum=maximum,
        minimum=duration(poll, "min", min(p0.minimum, maximum)),
        multiplier=multiplier,
        heartbeat=duration(poll, "heartbeat", p0.heartbeat),
    )
    _ordered(fields, poll, "initial", poll_policy.initial, poll_policy.maximum)
    _ordered(fields, poll, "min", poll_policy.minimum, poll_policy.maximum)

    retry = fields.section(d.get("retry"), d.sub("retry"), RETRY_KEYS, line=d.node.line)
    r0 = RetryPolicy()
    attempts, budget = r0.attempts, r0.budget
    if (node := retry.get("attempts")) is not None:
        attempts = fields.integer(node, retry.sub("attempts"), minimum=1, maximum=10)
    if (node := retry.get("budget")) is not None:
        budget = fields.integer(node, retry.sub("budget"), minimum=0)
    retry_policy = RetryPolicy(
        attempts=attempts,
        base=duration(retry, "base", r0.base),
        maximum=duration(retry, "max", r0.maximum),
        budget=budget,
        max_retry_after=duration(retry, "max_retry_after", r0.max_retry_after),
        rate_limit=_rate_limit(fields, retry, r0.rate_limit),
    )
    _ordered(fields, retry, "base", retry_policy.base, retry_policy.maximum)

    return Defaults(
        timeout=duration(d, "timeout", base.timeout),
        overall_timeout=overall,
        request_timeout=duration(d, "request_timeout", base.request_timeout),
        concurrency=concurrency,
        poll=poll_policy,
        retry=retry_policy,
        thresholds=fields.thresholds(d.get("thresholds"), d.sub("thresholds")),
        baseline=read_baseline(
            fields, d.get("baseline"), d.sub("baseline"), None, base_dir=base_dir, in_gate=False
        ),
        statistics=read_statistics(fields, d.get("statistics"), d.sub("statistics"), base.statistics),
        write_back=read_write_back(fields, d.get("write_back"), d.sub("write_back"), None),
    )


def _rate_limit(fields: Fields, retry: Section, default: float | None) -> float | None:
    """``retry.rate_limit``: requests per second to one provider; ``null`` lifts the ceiling."""
    if "rate_limit" not in retry:
        return default
    node = retry.get("rate_limit")
    if node is None or _is_null(node):
        return None
    return fields.number(node, retry.sub("rate_limit"), above=0)


def _ordered(fields: Fields, section: Section, low: str, low_value: float, high_value: float) -> None:
    """``low`` (initial/base delay) must not exceed ``max``."""
    if low_value > high_value:
        name = low if low in section else "max"
        fields.fail(
            section.get(name) or section.node,
            section.sub(name),
            f"{low} ({format_duration(low_value)}) is longer than max ({format_duration(high_value)})",
            hint=f"make {low} <= max",
        )


def _is_null(node: Node) -> bool:
    return isinstance(node, Scalar) and node.value is None


def _relative_hint(resolved: str) -> str:
    return f"paths are relative to the config file; looked for {resolved}"
