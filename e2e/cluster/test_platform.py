"""The platform on a real cluster with Dapr: the chart installs and passes its `helm test`; a
WorkflowRun runs a saga to Succeeded; an order published through the pub/sub completes; a
large order is approved through a WorkflowRun event; the release uninstalls cleanly.

The tests run in file order and share one release (conftest.release). Skipped, with the
reason, wherever KUBECONFIG does not point at a cluster with Dapr: docs/runbook-kind.md.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from e2e.cluster.cluster import Settings, apply, eventually, get_json, kubectl, port_forward
from sagactl.card_vault import tokenize
from services.contracts.topology import GOOD_TEST_CARD


@pytest.fixture(scope="module")
def token(settings: Settings, release: str) -> str:
    """The good test card's token, from the payment service's card edge (its Service)."""
    vault = _api_service(release).replace("-orchestrator", "-payment-vault")
    with port_forward(settings.namespace, vault, 8090) as port:
        return tokenize(f"http://127.0.0.1:{port}", GOOD_TEST_CARD)["token"]


def _order(order_id: str, unit_price_cents: int, token: str) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "customerId": "e2e-customer",
        "items": [{"sku": "SKU-001", "quantity": 1, "unitPriceCents": unit_price_cents}],
        "currency": "USD",
        "paymentToken": token,
        "shippingAddress": {
            "line1": "1 Main St",
            "city": "Springfield",
            "postalCode": "12345",
            "country": "US",
        },
    }


def _workflow_run(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "saga.dapr.io/v1alpha1",
        "kind": "WorkflowRun",
        "metadata": {"name": name},
        "spec": spec,
    }


def _succeeded(settings: Settings, name: str) -> dict[str, Any] | None:
    run = get_json("-n", settings.namespace, "workflowrun", name)
    conditions = {c["type"]: c for c in run.get("status", {}).get("conditions", [])}
    succeeded = conditions.get("Succeeded", {})
    if succeeded.get("status") == "False":
        raise AssertionError(f"WorkflowRun {name} failed: {succeeded}")
    return run if succeeded.get("status") == "True" else None


def _api_service(release: str) -> str:
    """The orchestrator's Service (the chart's component name for this release)."""
    full = release if "saga-platform" in release else f"{release}-saga-platform"
    return f"svc/{full[:40].rstrip('-')}-orchestrator"


def _completed_run(api: httpx.Client, instance_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v1/runs/{instance_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    run: dict[str, Any] = response.json()
    if run["status"] in {"FAILED", "TERMINATED"}:
        raise AssertionError(f"{instance_id} ended {run['status']}: {run.get('failure')}")
    return run if run["status"] == "COMPLETED" else None


def test_the_chart_installs_and_its_helm_test_passes(settings: Settings, release: str) -> None:
    import helm_python as helm

    with helm.Config(namespace=settings.namespace) as config:
        config.test(release, timeout=int(settings.timeout_seconds))
    pods = get_json("-n", settings.namespace, "pods", "-l", f"app.kubernetes.io/instance={release}")
    for pod in pods["items"]:
        if pod["metadata"]["labels"].get("app.kubernetes.io/component") in {
            "orchestrator",
            "inventory",
            "payment",
            "shipping",
        }:
            names = [c["name"] for c in pod["spec"]["containers"]]
            assert "daprd" in names, f"{pod['metadata']['name']} has no Dapr sidecar"


def test_a_workflow_run_succeeds(settings: Settings, release: str, token: str) -> None:
    order_id = f"wfr-{uuid.uuid4().hex[:8]}"
    apply(
        _workflow_run(
            "e2e-saga", {"workflowName": "order_saga", "input": _order(order_id, 1_000, token)}
        ),
        settings.namespace,
    )
    run = eventually(
        lambda: _succeeded(settings, "e2e-saga"),
        timeout=settings.timeout_seconds,
        what="WorkflowRun e2e-saga Succeeded=True",
    )
    assert run["status"]["phase"] == "Succeeded"
    assert run["status"]["output"]["outcome"] == "completed"


def test_an_order_published_through_pubsub_completes(
    settings: Settings, release: str, token: str
) -> None:
    order_id = f"pub-{uuid.uuid4().hex[:8]}"
    orchestrator = _api_service(release).replace("svc/", "deploy/")
    # The sidecar's publish API, as an upstream system in the cluster would use it.
    with port_forward(settings.namespace, orchestrator, 3500) as sidecar:
        response = httpx.post(
            f"http://127.0.0.1:{sidecar}/v1.0/publish/pubsub/orders",
            params={"metadata.cloudevent.type": "order.placed"},
            content=json.dumps(_order(order_id, 2_500, token)),
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 204, response.text
    with port_forward(settings.namespace, _api_service(release), 8080) as port:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        run = eventually(
            lambda: _completed_run(api, f"order-{order_id}"),
            timeout=settings.timeout_seconds,
            what=f"saga order-{order_id} to complete",
        )
    assert run["output"]["outcome"] == "completed"


def test_a_large_order_is_approved_through_a_workflow_run_event(
    settings: Settings, release: str, token: str
) -> None:
    order_id = f"big-{uuid.uuid4().hex[:8]}"
    with port_forward(settings.namespace, _api_service(release), 8080) as port:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        placed = api.post(
            "/v1/orders", json=_order(order_id, 250_000, token)
        )  # above the threshold
        assert placed.status_code == 202, placed.text

        def approval_waiting() -> bool | None:
            response = api.get(f"/v1/runs/approval-{order_id}")
            return True if response.status_code == 200 else None

        eventually(approval_waiting, timeout=settings.timeout_seconds, what="the approval")
        # The WorkflowRun adopts the running approval instance and raises the decision.
        apply(
            _workflow_run(
                "e2e-approval",
                {
                    "workflowName": "approval",
                    "instanceId": f"approval-{order_id}",
                    "events": [
                        {
                            "id": "decision",
                            "name": "approval_decision",
                            "data": {"orderId": order_id, "approved": True, "approver": "e2e"},
                        }
                    ],
                },
            ),
            settings.namespace,
        )
        eventually(
            lambda: _succeeded(settings, "e2e-approval"),
            timeout=settings.timeout_seconds,
            what="WorkflowRun e2e-approval Succeeded=True",
        )
        run = eventually(
            lambda: _completed_run(api, f"order-{order_id}"),
            timeout=settings.timeout_seconds,
            what=f"saga order-{order_id} to complete",
        )
    assert run["output"]["outcome"] == "completed"
    assert run["output"]["approval"] == "approved"


def test_the_release_uninstalls_cleanly(settings: Settings, release: str) -> None:
    import helm_python as helm

    # WorkflowRuns first, while the operator still runs: their finalizer purges the instances.
    kubectl("-n", settings.namespace, "delete", "workflowruns", "--all", "--wait=true", timeout=300)
    with helm.Config(namespace=settings.namespace) as config:
        config.uninstall(release, wait="watcher", timeout=300)
    selector = f"app.kubernetes.io/instance={release}"
    left = kubectl(
        "-n",
        settings.namespace,
        "get",
        "all,components,resiliencies,configurations",
        "-l",
        selector,
        "-o",
        "name",
    )
    assert left.strip() == ""
    # The CRD stays (Helm never deletes crds/), with no WorkflowRun left behind.
    assert get_json("-n", settings.namespace, "workflowruns")["items"] == []
