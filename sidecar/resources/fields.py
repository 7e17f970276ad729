"""Reading the fields of a resource document: each helper refuses a value of the wrong
shape with a `ResourceError` naming the file and the field."""

from __future__ import annotations

from typing import Any

from foundation.durations import go_duration_seconds


class ResourceError(ValueError):
    """A resource file the sidecar cannot honour; the message names file and field."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}")
        self.source = source
        self.field = field


def parse_duration(text: Any, source: str, field: str) -> float:
    """A Go duration as Dapr resources write them (`500ms`, `5s`, `1m30s`), in seconds;
    negative ones are refused (no policy waits a negative time)."""
    try:
        seconds = go_duration_seconds(str(text))
    except ValueError as error:
        raise ResourceError(source, field, str(error)) from None
    if seconds < 0:
        raise ResourceError(source, field, f"negative duration '{text}'")
    return seconds


def required_str(holder: Any, key: str, source: str, field: str | None = None) -> str:
    value = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(value, str) or not value:
        raise ResourceError(source, field or key, "required, and must be a non-empty string")
    return value


def mapping(value: Any, source: str, field: str) -> dict[str, Any]:
    """An optional mapping: absent or empty is `{}`, anything else but a mapping an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ResourceError(source, field, "must be a mapping")
    return value


def integer(value: Any, source: str, field: str) -> int:
    if isinstance(value, bool):
        raise ResourceError(source, field, f"must be an integer, got '{value}'")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ResourceError(source, field, f"must be an integer, got '{value}'") from None


def str_list(value: Any, source: str, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ResourceError(source, field, "must be a list of strings")
    return value
