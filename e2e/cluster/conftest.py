"""The cluster e2e runs only against a cluster with Dapr (KUBECONFIG set, Dapr's CRDs,
placement and scheduler present); everywhere else each test is skipped with the reason.

The module fixture installs the chart once (Helm SDK, into a namespace enforcing Pod Security
"restricted"), and the last test uninstalls it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.cluster.cluster import CHART, Settings, apply, kubectl, requirements

MISSING = requirements()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if MISSING is None:
        return
    skip = pytest.mark.skip(reason=f"cluster e2e skipped: {MISSING}")
    for item in items:
        if "e2e/cluster" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


def _values(settings: Settings) -> dict[str, Any]:
    images = {
        app: {"image": {"repository": f"{settings.image_repo}/{app}", "tag": settings.image_tag}}
        for app in ("orchestrator", "inventory", "payment", "shipping", "operator")
    }
    redis = {
        "host": settings.redis_host,
        "passwordSecret": {"name": "redis", "key": "redis-password"},
    }
    return {
        **images,
        "components": {
            "pubsub": {"redis": redis},
            "statestore": {"redis": redis},
            # No OTLP collector in a kind cluster.
            "configuration": {"tracing": {"enabled": False}},
        },
    }


def _prepare_namespace(settings: Settings) -> None:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": settings.namespace,
            # The chart's pods, injected sidecars included, must pass "restricted" admission.
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(namespace))
    # The components reference the Redis password by secretKeyRef, which resolves in their own
    # namespace: copy it from where `dapr init -k --dev` put it (empty: Redis without auth).
    try:
        encoded = kubectl(
            "-n",
            settings.redis_secret_namespace,
            "get",
            "secret",
            settings.redis_secret,
            "-o",
            "jsonpath={.data.redis-password}",
        )
    except AssertionError:
        encoded = ""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "redis"},
        "type": "Opaque",
        "data": {"redis-password": encoded},
    }
    apply(secret, settings.namespace)


@pytest.fixture(scope="module")
def release(settings: Settings) -> Iterator[str]:
    """The chart installed and ready (helm --wait), its `helm test` hook passing."""
    import helm_python as helm

    _prepare_namespace(settings)
    with helm.Config(namespace=settings.namespace) as config, helm.Chart.load(CHART) as chart:
        config.install(
            chart,
            settings.release,
            _values(settings),
            namespace=settings.namespace,
            wait="watcher",
            timeout=int(settings.timeout_seconds),
        )
        try:
            yield settings.release
        finally:
            config.uninstall(settings.release, ignore_not_found=True, wait="watcher", timeout=300)
