"""How the runner and its processes notice that whoever started them is gone.

Every process runs in a session of its own, so nothing the kernel does for a terminal or
a process group reaches it when its starter dies: a launcher killed with SIGKILL, or
closed with its terminal, would leave the runner and all its apps and sidecars running
(orphans of PID 1) with nobody to stop them. Two lifelines close that gap:

- the runner polls its parent process id: once it changes, the process that started it
  is gone and the runner stops everything, as on SIGTERM;
- each process the runner starts is exec'd through `setpriv --pdeathsig TERM` (util-linux),
  so the kernel sends it SIGTERM when the runner dies, even by SIGKILL.

The death signal is set by `setpriv` rather than by a `preexec_fn`: Python code between
fork and exec makes `subprocess` use fork() instead of vfork(), which runs gRPC's fork
handlers while the sidecars' gRPC threads are busy, and the child can crash (SIGSEGV,
SIGABRT) before it reaches exec.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

PARENT_POLL = 0.2

# Looked up once: None where the kernel or the system has no parent death signal.
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


async def parent_gone(parent: int) -> None:
    """Returns once this process's parent is no longer `parent` (it died and this
    process was handed to PID 1 or a subreaper)."""
    while True:  # the kernel tells a process nothing when its parent dies: poll
        if os.getppid() != parent:
            return
        await asyncio.sleep(PARENT_POLL)


def dies_with_this_process(argv: Sequence[str], cwd: Path) -> list[str]:
    """The command line that runs `argv` (from `cwd`) with SIGTERM as its parent death
    signal, or `argv` itself where the system has no such thing. A missing program is
    reported here, as exec would, not by `setpriv` after the fork."""
    program = shutil.which(argv[0] if os.sep not in argv[0] else str(cwd / argv[0]))
    if program is None:
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    if _SETPRIV is None:
        return [program, *argv[1:]]
    return [_SETPRIV, "--pdeathsig", "TERM", "--", program, *argv[1:]]
