"""What a test app received, one JSON line per request in the file `RECORDS` names; the
test reads them back with `read`."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def record(kind: str, **fields: Any) -> None:
    """Appends one record (`kind`: `event` or `invoke`) to the records file."""
    line = json.dumps({"kind": kind, "app": os.environ.get("APP_ID", ""), **fields})
    with _lock, Path(os.environ["RECORDS"]).open("a") as out:
        out.write(line + "\n")


def headers_of(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased, as HTTP/2 and gRPC metadata spell them."""
    return {name.lower(): value for name, value in headers.items()}


def read(path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if kind is None or r["kind"] == kind]
