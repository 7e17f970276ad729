"""Free loopback ports, for the runner (`sidecar.runner.plan`), the demo and the testing kit.

One function for all of them, so a fix to how a port is picked reaches every launcher. A
caller that runs beside others picking ports at the same moment (parallel test workers)
passes a range of its own, below the kernel's ephemeral range (32768+): there neither the
other callers nor the kernel's outgoing connections can take the port between the pick
and the bind of the server that will own it.
"""

from __future__ import annotations

import random
import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port(within: range | None = None) -> int:
    """A loopback port that is free now and that this process has not handed out before.

    Without `within` the kernel picks one from its ephemeral range; with it, a port of
    that range is picked at random (random so that two processes sharing a range rarely
    try the same port first).
    """
    with _lock:
        if within is None:
            while (port := _bind_any()) in _handed_out:
                pass
            _handed_out.add(port)
            return port
        candidates = [port for port in within if port not in _handed_out]
        random.shuffle(candidates)
        for port in candidates:
            if _bindable(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free port left in {within.start}-{within.stop - 1}")


def _bind_any() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
