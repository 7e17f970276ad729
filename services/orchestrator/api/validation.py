"""Input rules the OpenAPI document states and the API enforces exactly as stated.

Pydantic's lax mode would take `true` for an integer or `0.5` for a timestamp; a client
reading the document, or a fuzzer holding the API to it (schemathesis, `make test-api`),
expects such input refused. So timestamps must be RFC 3339 text (`Rfc3339`), request bodies
are validated a second time in strict JSON mode (`strict_body`), and run statuses and Go
durations carry the pattern the API parses them with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError, WithJsonSchema

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$"
)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 timestamp (2025-01-02T15:04:05Z)")
    return datetime.fromisoformat(value)


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

# Run statuses, one or several comma-separated, in either case (as `dapr workflow list -s`).
RUN_STATUS_NAMES = (
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "TERMINATED",
    "PENDING",
    "SUSPENDED",
    "STALLED",
)
_STATUS = "|".join((*RUN_STATUS_NAMES, *(n.lower() for n in RUN_STATUS_NAMES)))
STATUS_LIST_PATTERN = rf"^({_STATUS})(,({_STATUS}))*$"

# A Go duration without a sign (`720h`, `1h30m`, `1.5s`), as `parse_go_duration` reads it.
_GO_UNIT = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)"
GO_DURATION_PATTERN = rf"^(0|({_GO_UNIT})+)$"

# The continuation tokens of the audit trail and the dead-letter inbox.
LOG_TOKEN_PATTERN = r"^[1-9][0-9]{0,11}$"


def _json_numbers(value: Any) -> Any:
    """`1.0` is an integer to JSON Schema: as an int, strict validation takes it too."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_json_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    return value


def strict_body(model: type[BaseModel]) -> Callable[[Request], Awaitable[None]]:
    """A dependency validating the JSON body as `model` in strict mode (no `true` for an
    integer, no `"1"` for a number). Absent, `null` or unparsable bodies are left to the
    route's own validation. List it after the caller's identity, so 401 comes first."""

    async def check(request: Request) -> None:
        try:
            data = json.loads(await request.body() or b"null")
        except ValueError:
            return
        if data is None:
            return
        try:
            model.model_validate_json(json.dumps(_json_numbers(data)), strict=True)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
            ) from None

    return check
