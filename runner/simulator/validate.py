"""Django-REST-Framework-style request validation: typed field readers that collect errors.

The real API is a DRF application, so a client sees ``{"field": ["message", ...]}`` for field errors (nested
as ``{"field": {"1": [...]}}`` for list items and ``{"field": [{}, {"sub": [...]}]}`` for lists of objects)
and a bare ``["message"]`` array for the view-level checks that run after the serializer. The messages below
are DRF's own wording. Unknown keys are ignored, as DRF does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."
BAD_INT = "A valid integer is required."
BAD_STR = "Not a valid string."
BAD_BOOL = "Must be a valid boolean."
BAD_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
MAX_RUNS = 1000  # per start request: keeps a typo from allocating a million runs
_MISSING = object()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Invalid(Exception):
    """A request the API answers with 400 and ``body``."""

    def __init__(self, body: Any) -> None:
        super().__init__("invalid request")
        self.body = body


def reject(message: str) -> Invalid:
    """A view-level (non-field) error: DRF renders ``ValidationError("msg")`` as a bare array."""
    return Invalid([message])


def check_run_count(count: int) -> None:
    if count > MAX_RUNS:
        raise reject(f"Too many runs requested ({count}); the simulator allows at most {MAX_RUNS}.")


def _type_name(value: Any) -> str:
    return type(value).__name__


def as_int(value: Any) -> int | None:
    """DRF IntegerField: ints, integral floats and integer strings; never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


class Fields:
    """Reads fields of one JSON object; every reader returns None (and records an error) when invalid."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.errors: dict[str, Any] = {}

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def check(self) -> None:
        if self.errors:
            raise Invalid(self.errors)

    def has(self, key: str) -> bool:
        return self.body.get(key) is not None

    def _get(self, key: str, required: bool, nullable: bool) -> Any:
        value = self.body.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.fail(key, REQUIRED)
            return _MISSING
        if value is None:
            if not nullable:
                self.fail(key, NOT_NULL)
            return _MISSING
        return value

    def int_(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = True,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int | None:
        raw = self._get(key, required, nullable)
        if raw is _MISSING:
            return None
        value = as_int(raw)
        if value is None:
            self.fail(key, BAD_INT)
        elif min_value is not None and value < min_value:
            self.fail(key, f"Ensure this value is greater than or equal to {min_value}.")
        elif max_value is not None and value > max_value:
            self.fail(key, f"Ensure this value is less than or equal to {max_value}.")
        else:
            return value
        return None

    def str_(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = True,
        blank: bool = True,
        max_length: int = 0,
    ) -> str | None:
        raw = self._get(key, required, nullable)
        if raw is _MISSING:
            return None
        if not isinstance(raw, str):
            self.fail(key, BAD_STR)
        elif not blank and not raw.strip():
            self.fail(key, NOT_BLANK)
        elif max_length and len(raw) > max_length:
            self.fail(key, f"Ensure this field has no more than {max_length} characters.")
        else:
            return raw
        return None

    def bool_(self, key: str) -> bool | None:
        raw = self._get(key, False, False)
        if raw is _MISSING:
            return None
        if not isinstance(raw, bool):
            self.fail(key, BAD_BOOL)
            return None
        return raw

    def choice(self, key: str, choices: tuple[str, ...], *, nullable: bool = False) -> str | None:
        raw = self._get(key, False, nullable)
        if raw is _MISSING:
            return None
        if raw not in choices:
            self.fail(key, f'"{raw}" is not a valid choice.')
            return None
        return str(raw)

    def email(self, key: str) -> str | None:
        value = self.str_(key)
        if value is not None and not _EMAIL.match(value):
            self.fail(key, "Enter a valid email address.")
            return None
        return value

    def datetime_(self, key: str) -> str | None:
        value = self.str_(key)
        if value is None:
            return None
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(key, BAD_DATETIME)
            return None
        return value

    def obj(self, key: str) -> dict[str, Any] | None:
        raw = self._get(key, False, True)
        if raw is _MISSING:
            return None
        if not isinstance(raw, dict):
            self.fail(key, f'Expected a dictionary of items but got type "{_type_name(raw)}".')
            return None
        return raw

    def any_(self, key: str) -> Any:
        return self.body.get(key)

    def _list(self, key: str, required: bool, nullable: bool) -> list[Any] | None:
        raw = self._get(key, required, nullable)
        if raw is _MISSING:
            return None
        if not isinstance(raw, list):
            self.fail(key, f'Expected a list of items but got type "{_type_name(raw)}".')
            return None
        return raw

    def int_list(self, key: str, *, required: bool = False, nullable: bool = True) -> list[int] | None:
        raw = self._list(key, required, nullable)
        if raw is None:
            return None
        values = [as_int(v) for v in raw]
        bad = {str(i): [BAD_INT] for i, v in enumerate(values) if v is None}
        if bad:
            self.errors[key] = bad
            return None
        return [v for v in values if v is not None]

    def str_list(self, key: str, *, required: bool = False, nullable: bool = True) -> list[str] | None:
        raw = self._list(key, required, nullable)
        if raw is None:
            return None
        bad = {str(i): [BAD_STR] for i, v in enumerate(raw) if not isinstance(v, str)}
        if bad:
            self.errors[key] = bad
            return None
        return [str(v) for v in raw]

    def obj_list(self, key: str, item: Callable[[Fields], T], *, required: bool = False) -> list[T] | None:
        """A nested list serializer: ``item`` reads one object; errors come back as one dict per item."""
        raw = self._get(key, required, False)
        if raw is _MISSING:
            return None
        if not isinstance(raw, list):
            message = f'Expected a list of items but got type "{_type_name(raw)}".'
            self.errors[key] = {"non_field_errors": [message]}
            return None
        if not raw:
            self.errors[key] = {"non_field_errors": ["This list may not be empty."]}
            return None
        out: list[T] = []
        item_errors: list[dict[str, Any]] = []
        for element in raw:
            if not isinstance(element, dict):
                message = f"Invalid data. Expected a dictionary, but got {_type_name(element)}."
                item_errors.append({"non_field_errors": [message]})
                continue
            sub = Fields(element)
            value = item(sub)
            item_errors.append(sub.errors)
            if not sub.errors:
                out.append(value)
        if any(item_errors):
            self.errors[key] = item_errors
            return None
        return out
