"""The exception tree of regate.

Every exception a user can meet carries a one-line ``message`` and an optional ``hint``; the CLI prints
those (never a traceback unless ``--debug``) and maps the class to an exit code.

    RegateError                      base; ``message`` + ``hint``
    ├── UsageError                   bad command line                          -> exit 2
    ├── ConfigError                  bad config file: file, line, key path     -> exit 2
    │   └── ThresholdSyntaxError     a threshold expression that does not parse
    ├── ProviderError                anything that went wrong talking to a platform
    │   ├── TransientError           may succeed if retried (connect/read error, 408, 429, 5xx)
    │   │   └── RateLimited          429; ``retry_after`` seconds if the server said so
    │   ├── AuthError                401/403: never retried, stops that provider's gates
    │   ├── RequestRejected          any other 4xx: our request is wrong, not retried
    │   ├── ProtocolError            2xx with a body we cannot understand (fail closed)
    │   ├── StartOutcomeUnknown      a start POST may or may not have created billed runs
    │   └── ProbeUnsupported         the platform cannot count a result's unfinished runs: poll it whole
    ├── DeadlineExceeded             a per-gate or overall deadline ran out
    └── SimulatorError               the embedded simulator could not start

Secrets never appear in messages: providers build messages from status codes, paths and ids only.
"""

from __future__ import annotations


class RegateError(Exception):
    """Base of every error regate raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RegateError):
    """The command line is wrong."""


class ConfigError(RegateError):
    """The config file is wrong. Names the file, line and key path so the user can fix it."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        location = file if line is None else f"{file}:{line}"
        prefix = f"{location}: {key}: " if key else f"{location}: "
        super().__init__(prefix + message, hint=hint)
        self.detail = message


class ThresholdSyntaxError(RegateError):
    """A threshold expression does not parse. ``config`` re-raises it as a ConfigError with a location.

    ``key`` is the path below ``thresholds`` that is wrong, e.g. ``success_rate`` or ``metrics.Latency[1]``.
    """

    def __init__(self, message: str, *, key: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class ProviderError(RegateError):
    """Talking to a platform failed."""


class TransientError(ProviderError):
    """A failure that may go away on retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """HTTP 429."""


class AuthError(ProviderError):
    """HTTP 401/403: the key is missing, wrong or not allowed."""


class RequestRejected(ProviderError):
    """Any other 4xx: retrying the same request cannot help. ``status``: the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ProtocolError(ProviderError):
    """The platform answered 2xx with a body that does not match the contract."""


class StartOutcomeUnknown(ProviderError):
    """A start request failed in a way that leaves open whether runs were created (and billed)."""


class ProbeUnsupported(ProviderError):
    """The platform cannot answer a progress probe (no such endpoint, or an answer that does not add up):
    the poller falls back to reading the whole result on every poll. Never shown as a failure."""


class DeadlineExceeded(RegateError):
    """A deadline ran out."""


class SimulatorError(RegateError):
    """The embedded simulator could not start or serve."""
