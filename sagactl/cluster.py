"""`-k/--kubernetes`: reach the management API inside a cluster.

`dapr workflow -k` port-forwards to the app's pod in the namespace of `-n`; sagactl does the
same through `kubectl port-forward` to the orchestrator's Service (found by the chart's
labels), so whatever kubeconfig, context and auth plugin kubectl uses work here too.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sagactl.api_client import CannotConnect

# The labels charts/saga-platform puts on the orchestrator's Service, and its port's name.
SERVICE_SELECTOR = (
    "app.kubernetes.io/part-of=saga-platform,app.kubernetes.io/component=orchestrator"
)
API_PORT_NAME = "http-api"
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")
_USE_API_URL = "or forward a port yourself and pass --api-url"


def _kubectl(args: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            ["kubectl", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise CannotConnect(f"-k needs kubectl on PATH ({_USE_API_URL})") from None
    except subprocess.TimeoutExpired:
        raise CannotConnect(f"kubectl {args[0]} took longer than {timeout:g}s") from None
    if done.returncode != 0:
        raise CannotConnect(f"kubectl {args[0]}: {done.stderr.strip()}")
    return done.stdout


def _orchestrator_service(namespace: str, timeout: float) -> str:
    """`service/<name>` of the one orchestrator Service in `namespace`."""
    query = ["--namespace", namespace, "--selector", SERVICE_SELECTOR, "--output", "name"]
    found = _kubectl(["get", "services", *query], timeout).split()
    if len(found) != 1:
        listed = f" ({', '.join(found)})" if found else ""
        raise CannotConnect(
            f"expected one saga-platform orchestrator Service in namespace '{namespace}', "
            f"found {len(found)}{listed}; pick the namespace with -n, {_USE_API_URL}"
        )
    return found[0]


@contextmanager
def port_forward(namespace: str, timeout: float) -> Iterator[str]:
    """The API's URL on a local port forwarded to the orchestrator Service, while inside."""
    service = _orchestrator_service(namespace, timeout)
    command = ["kubectl", "port-forward", "--namespace", namespace, "--address", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, service, f":{API_PORT_NAME}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        match = _FORWARDING.search(process.stdout.readline())
        watchdog.cancel()
        if match is None:
            process.kill()
            reason = process.stderr.read().strip() or f"no answer within {timeout:g}s"
            raise CannotConnect(
                f"kubectl port-forward {service} in namespace '{namespace}': {reason}"
            )
        # kubectl keeps writing a line per connection: read them so its pipes never fill.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=stream.read, daemon=True).start()
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait()
