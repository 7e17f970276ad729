"""Process groups: each started process leads its own, so signals reach what it spawned.

"Alive" ignores zombies: in a container whose PID 1 never reaps (Docker without
`--init`), an orphaned grandchild stays a zombie forever and would otherwise look like
a process refusing to stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

_PROC = Path("/proc")


def send(pgid: int, sig: signal.Signals) -> None:
    """Signals every process of the group; a group that is gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in the group, leader or not."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False
