"""What a command prints: a table or a line for people, JSON or YAML for scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from tabulate import tabulate

# `-o` as `dapr workflow` takes it: short (the default) and wide tables, json, yaml.
FORMATS = ("short", "wide", "json", "yaml")
# `table` was sagactl's name for `short` before it followed dapr; old scripts still pass it.
FORMAT_ALIASES = {"table": "short"}
# kubectl's words for an empty listing, printed on stderr (stdout stays empty, exit 0).
NO_RESOURCES = "No resources found."
_CELL = 60


@dataclass
class Output:
    """A command's result: `data` for -o json/yaml; `rows` (or `message`) for people."""

    data: Any
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    message: str | None = None
    # Printed as is, whatever the format (a Mermaid diagram).
    raw: str | None = None


def when(timestamp: str | None) -> str:
    """`2025-01-01T12:00:00.123456Z` -> `2025-01-01 12:00:00Z`."""
    if not timestamp:
        return ""
    date, _, time = timestamp.partition("T")
    return f"{date} {time.split('.')[0].removesuffix('Z')}Z" if time else timestamp


def compact(value: Any, width: int | None = _CELL) -> str:
    """A JSON value on one line, cut to `width` characters for a table cell (None: uncut)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def render(output: Output, output_format: str) -> str | None:
    """The text for stdout, or None for an empty listing (see `NO_RESOURCES`)."""
    if output.raw is not None:
        return output.raw.rstrip("\n")
    if output_format == "json":
        return json.dumps(output.data, indent=2)
    if output_format == "yaml":
        return yaml.safe_dump(output.data, sort_keys=False, allow_unicode=True).rstrip("\n")
    if output.message is not None:
        return output.message
    if not output.rows:
        return None
    return tabulate(output.rows, headers=output.headers, tablefmt="plain")
