"""The default workflow instance id of a WorkflowRun that names none.

Derived from the namespace and the name only, so every operator replica and every restart
computes the same id: starting the run twice finds the instance already there (adoption)
instead of creating a second one. The readable part (`wfr-<namespace>-<name>`) is cut to fit;
the hash of the exact pair keeps two runs apart even when their readable parts collide
(`a-b`/`c` and `a`/`b-c`, or two long names that share a prefix).
"""

from __future__ import annotations

import hashlib

PREFIX = "wfr"
MAX_LENGTH = 64
HASH_LENGTH = 8


def default_instance_id(namespace: str, name: str) -> str:
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:HASH_LENGTH]
    readable = f"{PREFIX}-{namespace}-{name}"[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-.")
    return f"{readable}-{digest}"


def instance_id_for(namespace: str, name: str, requested: str | None) -> str:
    """The instance id a run uses: the one its spec names, else the default one."""
    return requested if requested else default_instance_id(namespace, name)
