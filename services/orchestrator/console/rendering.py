"""The console's Jinja2 environment (templates/, autoescaped) and the few filters its
pages share: money, moments, durations, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def utc_moment(value: Any) -> datetime | None:
    """A datetime, RFC 3339 text or a `datetime-local` field's value, in UTC (a moment that
    names no zone is UTC); None when empty or not a moment."""
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment(value: Any) -> str:
    """`2026-11-22 02:35:47Z`, as sagactl shows times."""
    parsed = utc_moment(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if parsed else ""


def duration(seconds: float) -> str:
    """`2d 3h`, `4h 12m`, `5m 3s`, `12s`: the two largest units."""
    seconds = int(seconds)
    if seconds <= 0:
        return "0s"
    units = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    parts = []
    for suffix, size in units:
        if seconds >= size:
            parts.append(f"{seconds // size}{suffix}")
            seconds %= size
    return " ".join(parts[:2])


def time_left(value: Any) -> str:
    parsed = utc_moment(value)
    if parsed is None:
        return ""
    left = (parsed - datetime.now(UTC)).total_seconds()
    return duration(left) if left > 0 else "expired"


def money(cents: Any, currency: Any = "USD") -> str:
    if not isinstance(cents, int):
        return ""
    return f"{cents // 100:,}.{cents % 100:02d} {currency or ''}".strip()


def pretty_json(value: Any) -> str:
    if value is None:
        return "—"
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


templates.env.filters.update(
    moment=moment, time_left=time_left, money=money, pretty_json=pretty_json
)
