"""CPU seconds per process from `/proc`, to tell where an order's time goes.

Read from `/proc/<pid>/stat` (user + system time), so it needs nothing installed and works
from either virtualenv: `bench/e2e.py` samples our platform's processes with it and the
Temporal peer's measuring client samples the dev server's and the workers'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far (its own threads, not its children)."""
    # The command name (field 2) may hold spaces: the fields that follow the last `)` count.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / TICKS_PER_S


def sample(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def per_order_ms(
    before: Mapping[str, float], after: Mapping[str, float], orders: int
) -> dict[str, float]:
    """Each process's CPU milliseconds per order between two samples."""
    return {name: (after[name] - before[name]) * 1000 / orders for name in before}
