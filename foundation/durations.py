"""Go duration strings (`720h`, `1h30m`, `90s`, `1.5h`, `500ms`), parsed as Go's
`time.ParseDuration` does: the grammar of every duration Dapr takes, in resource YAML
(`retryInterval`, `timeout`, `retentionPeriod`) and on `dapr workflow` flags
(`--all-older-than`, `--filter-max-age`). A sequence of decimal numbers, each with a unit
(ns, us, µs, μs, ms, s, m, h), an optional sign; `0` alone is allowed; there is no `d`.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS_IN_MICROSECONDS = {
    "ns": 0.001,
    "us": 1.0,
    "µs": 1.0,  # Go accepts the micro sign
    "μs": 1.0,  # and the Greek mu
    "ms": 1_000.0,
    "s": 1_000_000.0,
    "m": 60_000_000.0,
    "h": 3_600_000_000.0,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> timedelta:
    """The duration `text` names; `ValueError` with a readable reason otherwise."""
    value = text.strip()
    sign = 1
    if value[:1] in {"+", "-"}:
        sign = -1 if value[0] == "-" else 1
        value = value[1:]
    if value == "0":
        return timedelta(0)
    if not value:
        raise ValueError(f"invalid duration '{text}'")
    position = 0
    total = 0.0
    while position < len(value):
        match = _PART.match(value, position)
        if match is None:
            raise ValueError(
                f"invalid duration '{text}': use a Go duration such as 720h, 1h30m or 45s"
            )
        total += float(match.group(1)) * _UNITS_IN_MICROSECONDS[match.group(2)]
        position = match.end()
    return timedelta(microseconds=sign * total)


def go_duration_seconds(text: str) -> float:
    """`parse_go_duration` in seconds, the unit the runtime's timers and policies use."""
    return parse_go_duration(text).total_seconds()


def format_go_duration(seconds: float) -> str:
    """A Go duration string for `seconds` (`1h30m0s`, `1.5s`, `250ms`), as Go prints one."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    if rest < 1:
        return f"{sign}{rest * 1000:g}ms"
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    text = f"{rest:g}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return sign + text
