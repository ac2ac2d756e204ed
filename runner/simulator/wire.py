"""The simulator's transport-neutral request and response, shared by the app and its transports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SimRequest:
    method: str
    path: str  # without the query string
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lowercase names
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class SimResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0  # simulated seconds to wait before answering
    reset: bool = False  # close the connection without answering; the request was not processed
    reset_after_processing: bool = False  # same, but the request took effect
    cut: bool = False  # the request took effect; the answer breaks off half-way through its body

    def json(self) -> Any:
        return json.loads(self.body)


class HttpError(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> SimResponse:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return SimResponse(status, (("Content-Type", "application/json"), *headers), body)


def not_found() -> HttpError:
    return HttpError(404, {"detail": "Not found."})
