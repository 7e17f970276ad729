"""The cluster the e2e tests drive, through the tools a person would use: `kubectl` for
resources and port-forwards, the Helm SDK (helm-python-sdk: Helm's own Go code) for the
release, and plain HTTP for the management API and the Dapr sidecar's publish API.

Nothing here runs unless `requirements()` finds a cluster with Dapr: see conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "saga-platform"

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """What the run may be told through the environment (docs/runbook-kind.md)."""

    namespace: str = os.environ.get("SAGA_E2E_NAMESPACE", "saga-e2e")
    release: str = os.environ.get("SAGA_E2E_RELEASE", "saga-platform")
    # The images, as built by `make images` (and loaded into kind): <repo>/<app>:<tag>.
    image_repo: str = os.environ.get("SAGA_E2E_IMAGE_REPO", "saga-platform")
    image_tag: str = os.environ.get("SAGA_E2E_IMAGE_TAG", "dev")
    # Redis from `dapr init -k --dev`; its password is copied into the test namespace.
    redis_host: str = os.environ.get(
        "SAGA_E2E_REDIS_HOST", "dapr-dev-redis-master.default.svc.cluster.local:6379"
    )
    redis_secret_namespace: str = os.environ.get("SAGA_E2E_REDIS_SECRET_NAMESPACE", "default")
    redis_secret: str = os.environ.get("SAGA_E2E_REDIS_SECRET", "dapr-dev-redis")
    timeout_seconds: float = float(os.environ.get("SAGA_E2E_TIMEOUT_SECONDS", "300"))


def requirements() -> str | None:
    """Why the cluster e2e cannot run here, or None when it can."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        return (
            "KUBECONFIG is not set: the cluster e2e needs a cluster with Dapr "
            "(docs/runbook-kind.md)"
        )
    if not all(Path(path).is_file() for path in kubeconfig.split(os.pathsep) if path):
        return f"KUBECONFIG={kubeconfig} names no kubeconfig file"
    if shutil.which("kubectl") is None:
        return "kubectl is not on PATH"
    reachable = _kubectl_probe(["version", "--request-timeout=5s", "-o", "json"])
    if reachable is not None:
        return f"the cluster of KUBECONFIG does not answer: {reachable}"
    for check, why in (
        (["get", "crd", "components.dapr.io"], "Dapr's CRDs are not installed"),
        (["-n", "dapr-system", "get", "statefulset", "dapr-placement-server"], "no Dapr placement"),
        (["-n", "dapr-system", "get", "statefulset", "dapr-scheduler-server"], "no Dapr scheduler"),
    ):
        if _kubectl_probe(check) is not None:
            return f"{why}: run `dapr init -k --dev --wait` (Dapr >= 1.15) first"
    return None


def _kubectl_probe(args: list[str]) -> str | None:
    try:
        run = subprocess.run(
            ["kubectl", *args], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "kubectl timed out"
    return None if run.returncode == 0 else (run.stderr.strip() or "failed")


def kubectl(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    run = subprocess.run(
        ["kubectl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if run.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def apply(manifest: dict[str, Any], namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json"))


def eventually(
    check: Callable[[], T | None], *, timeout: float, what: str, every: float = 2.0
) -> T:
    """Polls `check` until it returns something other than None."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # a port-forward or an API call mid-rollout
            last_error = error
        else:
            if result is not None:
                return result
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})"
    )


@contextmanager
def port_forward(namespace: str, target: str, port: int) -> Iterator[int]:
    """`kubectl port-forward` to `target` (svc/x, deploy/x) on a free local port."""
    process = subprocess.Popen(
        ["kubectl", "-n", namespace, "port-forward", target, f":{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if match is None:
            raise AssertionError(f"port-forward to {target}: {line or process.stderr.read()}")
        yield int(match[1])
    finally:
        process.terminate()
        process.wait(timeout=10)
