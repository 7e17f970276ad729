"""The bearer token, the error shape for everything FastAPI itself refuses, the health
check and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.orchestrator.api.errors import ErrorCode


def test_with_a_token_every_route_needs_it_but_health_metrics_and_docs(
    make_app: Callable[..., FastAPI],
) -> None:
    with TestClient(make_app(token="s3cret")) as api:
        missing = api.get("/v1/runs/x")
        wrong = api.get("/v1/runs/x", headers={"Authorization": "Bearer nope"})
        basic = api.get("/v1/runs/x", headers={"Authorization": "Basic czNjcmV0"})
        right = api.get("/v1/runs/x", headers={"Authorization": "Bearer s3cret"})
        refused_write = api.post("/v1/orders", json={})

        for response in (missing, wrong, basic, refused_write):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == ErrorCode.UNAUTHORIZED
            assert response.headers["www-authenticate"] == "Bearer"
        assert right.status_code == 404  # past the check: the run does not exist
        assert right.json()["error"]["code"] == ErrorCode.WORKFLOW_NOT_FOUND
        assert api.get("/healthz").status_code == 200
        # Scrapers reach /metrics as the kubelet reaches /healthz (docs/operations.md).
        metrics = api.get("/metrics")
        assert metrics.status_code == 200
        assert "saga_finished_total" in metrics.text
        assert api.get("/openapi.json").status_code == 200
        assert api.get("/docs").status_code == 200


def test_without_a_token_the_api_is_open(api: TestClient) -> None:
    assert api.get("/v1/runs").status_code == 200


def test_health_answers_ok(api: TestClient) -> None:
    response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_routes_and_methods_answer_in_the_error_shape(api: TestClient) -> None:
    unknown = api.get("/v1/nothing-here")
    wrong_method = api.put("/v1/runs/x")

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_the_openapi_document_describes_every_route_and_the_error_body(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()

    assert spec["info"]["title"] == "Saga platform management API"
    assert set(spec["paths"]) == {
        "/healthz",
        "/metrics",
        "/v1/workflows/{name}/runs",
        "/v1/runs",
        "/v1/runs/purge",
        "/v1/runs/{instanceId}",
        "/v1/runs/{instanceId}/history",
        "/v1/runs/{instanceId}/history/mermaid",
        "/v1/runs/{instanceId}/events/{eventName}",
        "/v1/runs/{instanceId}/suspend",
        "/v1/runs/{instanceId}/resume",
        "/v1/runs/{instanceId}/terminate",
        "/v1/runs/{instanceId}/rerun",
        "/v1/approvals",
        "/v1/approvals/{orderId}/approve",
        "/v1/approvals/{orderId}/reject",
        "/v1/orders",
        "/v1/inventory/stock",
    }
    start = spec["paths"]["/v1/workflows/{name}/runs"]["post"]
    assert {"201", "401", "404", "409", "422"} <= set(start["responses"])
    assert start["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
