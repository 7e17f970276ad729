"""Go duration strings (`720h`, `1h30m`, `90s`, `1.5h`), as `dapr workflow purge
--all-older-than` takes them, parsed exactly as Go's `time.ParseDuration` does:
a sequence of decimal numbers each with a unit (ns, us, µs, ms, s, m, h); `0` alone is
allowed; there is no `d` unit.
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
