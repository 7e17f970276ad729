"""Orders are published on `orders` through the orchestrator's sidecar, as an upstream
system would; stock levels are read from the state store the inventory service writes."""

from __future__ import annotations

import json

import pytest
from dapr.clients import DaprClient
from fastapi.testclient import TestClient

from services.contracts.messages import IDENTIFIER_MAX_LENGTH, MAX_ORDER_ID_LENGTH
from services.contracts.names import SKU_CATALOGUE_KEY, STATESTORE, stock_key
from testkit.observer import data_of, sub
from testkit.sidecar import SidecarProcess, wait_connected
from tests.api.harness import COMPONENTS, order
from tests.pubsub.harness import Cluster


def test_a_placed_order_is_published_as_order_placed_on_orders(
    api: TestClient, sidecar: SidecarProcess, cluster: Cluster
) -> None:
    listener = cluster.app("listener", [sub("orders")])
    listener_sidecar = cluster.sidecar(
        "listener", app=listener, data_dir=sidecar.data_dir, resources=COMPONENTS
    )
    wait_connected(listener_sidecar)

    response = api.post("/v1/orders", json=order("o-1"))

    assert response.status_code == 202
    assert response.json() == {"orderId": "o-1", "sagaId": "order-o-1"}
    [event] = listener.wait_for(lambda event: event["type"] == "order.placed")
    assert event["topic"] == "orders"
    assert event["datacontenttype"] == "application/json"
    assert data_of(event) == {**order("o-1"), "currency": "USD"}


def test_an_invalid_order_is_refused_before_it_is_published(api: TestClient) -> None:
    bad = {**order("o-2"), "items": []}

    response = api.post("/v1/orders", json=bad)

    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert "items" in response.json()["detail"]


@pytest.mark.parametrize(
    ("order_id", "problem"),
    [
        ("L" * (MAX_ORDER_ID_LENGTH + 1), f"longer than {MAX_ORDER_ID_LENGTH} characters"),
        ("M" * IDENTIFIER_MAX_LENGTH, f"longer than {MAX_ORDER_ID_LENGTH} characters"),
        ("no spaces", "should match pattern"),
    ],
    ids=["one-over", "longest-identifier", "malformed"],
)
def test_an_order_id_that_cannot_run_a_saga_is_refused_naming_the_field(
    api: TestClient, order_id: str, problem: str
) -> None:
    """Its saga's command ids (`order-<orderId>:cancel_shipment`) must be identifiers too:
    refused here rather than accepted and dead-lettered later."""
    response = api.post("/v1/orders", json=order(order_id))

    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "VALIDATION_FAILED"
    assert "body.orderId: " in error["detail"]
    assert problem in error["detail"]


def test_an_order_id_of_the_longest_length_is_accepted(api: TestClient) -> None:
    order_id = "L" * MAX_ORDER_ID_LENGTH

    response = api.post("/v1/orders", json=order(order_id))

    assert response.status_code == 202
    assert response.json()["sagaId"] == f"order-{order_id}"


def seed_stock(dapr: DaprClient, levels: dict[str, tuple[int, int]]) -> None:
    dapr.save_state(STATESTORE, SKU_CATALOGUE_KEY, json.dumps(sorted(levels)))
    for sku, (available, reserved) in levels.items():
        dapr.save_state(
            STATESTORE,
            stock_key(sku),
            json.dumps({"sku": sku, "available": available, "reserved": reserved}),
        )


def test_stock_levels_are_read_for_the_whole_catalogue_or_chosen_skus(
    api: TestClient, dapr_client: DaprClient
) -> None:
    assert api.get("/v1/inventory/stock").json() == {"items": []}
    seed_stock(dapr_client, {"SKU-1": (10, 2), "SKU-2": (0, 0), "SKU-3": (7, 1)})

    everything = api.get("/v1/inventory/stock").json()["items"]
    chosen = api.get("/v1/inventory/stock", params=[("sku", "SKU-3"), ("sku", "SKU-1")])

    # A level stored before shipments were counted reads as none shipped.
    assert everything == [
        {"sku": "SKU-1", "available": 10, "reserved": 2, "shipped": 0},
        {"sku": "SKU-2", "available": 0, "reserved": 0, "shipped": 0},
        {"sku": "SKU-3", "available": 7, "reserved": 1, "shipped": 0},
    ]
    assert [level["sku"] for level in chosen.json()["items"]] == ["SKU-3", "SKU-1"]


def test_a_sku_without_stock_is_404(api: TestClient, dapr_client: DaprClient) -> None:
    seed_stock(dapr_client, {"SKU-1": (1, 0)})

    response = api.get("/v1/inventory/stock", params={"sku": "SKU-9"})

    assert response.status_code == 404
    assert response.json()["code"] == "SKU_NOT_FOUND"
