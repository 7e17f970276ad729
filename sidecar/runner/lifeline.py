"""How the runner and its processes notice that whoever started them is gone.

Every process runs in a session of its own, so nothing the kernel does for a terminal or
a process group reaches it when its starter dies: a launcher killed with SIGKILL, or
closed with its terminal, would leave the runner and all its apps and sidecars running
(orphans of PID 1) with nobody to stop them. Two lifelines close that gap:

- the runner polls its parent process id: once it changes, the process that started it
  is gone and the runner stops everything, as on SIGTERM;
- each process the runner starts asks the kernel (Linux `PR_SET_PDEATHSIG`) for SIGTERM
  when the runner dies, which covers a runner that had no chance to stop them (SIGKILL).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
PARENT_POLL = 0.2


def _load_prctl() -> Callable[[int, int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return None
    prctl: Callable[[int, int, int, int, int], int] = libc.prctl
    return prctl


# Looked up once, before any fork: the child runs as little as possible before exec.
_prctl = _load_prctl()


async def parent_gone(parent: int) -> None:
    """Returns once this process's parent is no longer `parent` (it died and this
    process was handed to PID 1 or a subreaper)."""
    while True:  # the kernel tells a process nothing when its parent dies: poll
        if os.getppid() != parent:
            return
        await asyncio.sleep(PARENT_POLL)


def dies_with_this_process() -> Callable[[], None] | None:
    """A `preexec_fn` that has the child receive SIGTERM when this process dies, or None
    where the kernel has no such thing."""
    if _prctl is None:
        return None
    prctl, runner, sigterm = _prctl, os.getpid(), int(signal.SIGTERM)

    def arm() -> None:  # runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != runner:  # the runner died before the request took effect
            os._exit(1)

    return arm
