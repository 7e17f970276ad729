"""Free ports for tests: the product's `foundation.ports.free_port`, on a range per worker.

pytest-xdist runs several workers on one machine; each picks from its own range below the
kernel's ephemeral ports, so neither another worker nor an outgoing connection takes the
port a test picked before the server it is for binds it (which once made tests flaky).
"""

from __future__ import annotations

import os
import socket

from foundation import ports

PORTS_PER_WORKER = 3000
_FIRST_PORT = 20000
_RANGES = 4  # 20000-31999: below the ephemeral range


def worker_ports() -> range:
    """The ports of this pytest-xdist worker (`gw0` and any process outside xdist: the first)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % _RANGES if worker.isdigit() else 0
    low = _FIRST_PORT + index * PORTS_PER_WORKER
    return range(low, low + PORTS_PER_WORKER)


def free_port() -> int:
    """A loopback port free now, of this worker's range, not handed out before here."""
    return ports.free_port(worker_ports())


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Something accepts connections on `host:port`: a server there is listening."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True
