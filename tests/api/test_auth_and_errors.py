"""Identities and roles (signed bearer tokens, 401 / 403), the problem+json error shape for
everything FastAPI itself refuses, health, readiness and the OpenAPI document."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dapr.ext.workflow as wf
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from foundation.tokens import LocalIssuer, local_issuer
from services.orchestrator.api.errors import ErrorCode
from services.orchestrator.api.identity import InvalidToken, Role, TokenVerifier, roles_of
from tests.api.harness import approval_request, bearer, started

PROTECTED = ("/v1/runs", "/v1/approvals", "/v1/inventory/stock", "/v1/audit", "/v1/dead-letters")


def status_of(client: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowStatus:
    state = client.get_workflow_state(instance_id)
    assert state is not None
    return state.runtime_status


def test_without_a_token_every_route_but_health_readiness_metrics_and_docs_answers_401(
    make_app: Callable[..., FastAPI], runtime: wf.WorkflowRuntime
) -> None:
    with TestClient(make_app()) as api:
        for path in PROTECTED:
            response = api.get(path)
            assert response.status_code == 401, path
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == ErrorCode.UNAUTHORIZED
            assert response.headers["www-authenticate"] == "Bearer"
        assert api.post("/v1/orders", json={}).status_code == 401
        assert api.get("/v1/runs", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200
        metrics = api.get("/metrics")
        assert metrics.status_code == 200
        assert "saga_finished_total" in metrics.text
        assert api.get("/openapi.json").status_code == 200
        assert api.get("/docs").status_code == 200


def test_a_token_that_is_forged_expired_or_for_another_audience_answers_401(
    make_app: Callable[..., FastAPI], issuer: LocalIssuer, tmp_path: Path
) -> None:
    stranger = local_issuer(tmp_path / "stranger")  # the same claims, another key
    other_audience = LocalIssuer(issuer.folder, audience="another-api")
    tokens = {
        "forged": stranger.mint("mallory", ["operator"]),
        "expired": issuer.mint("alice", ["operator"], ttl_seconds=-120),
        "audience": other_audience.mint("alice", ["operator"]),
        "garbage": "not.a.jwt",
        "unsigned": jwt.encode({"sub": "x", "roles": ["operator"]}, "", algorithm="none"),
    }
    with TestClient(make_app()) as api:
        for what, token in tokens.items():
            response = api.get("/v1/runs", headers=bearer(token))
            assert response.status_code == 401, what
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', what
        assert api.get("/v1/runs", headers=bearer(issuer.mint("a", ["viewer"]))).status_code == 200


def test_a_viewer_reads_but_cannot_approve_operate_or_read_the_audit_trail(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    api.post("/v1/workflows/approval/runs", json={"input": approval_request("r-1")})
    started(client, "approval-r-1")
    viewer = bearer(issuer.mint("victor", [Role.VIEWER]))

    assert api.get("/v1/approvals", headers=viewer).status_code == 200
    assert api.get("/v1/runs/approval-r-1", headers=viewer).status_code == 200
    for method, path in (
        ("POST", "/v1/approvals/r-1/approve"),
        ("POST", "/v1/runs/approval-r-1/terminate"),
        ("POST", "/v1/orders/r-1/cancel"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/dead-letters"),
    ):
        response = api.request(method, path, headers=viewer)
        assert response.status_code == 403, path
        assert response.json()["code"] == ErrorCode.FORBIDDEN
    assert status_of(client, "approval-r-1") == wf.WorkflowStatus.RUNNING


def test_an_approver_decides_but_does_not_operate_and_an_operator_does_not_decide(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    api.post("/v1/workflows/approval/runs", json={"input": approval_request("r-2")})
    started(client, "approval-r-2")
    approver = bearer(issuer.mint("alice", [Role.APPROVER]))
    operator = bearer(issuer.mint("oscar", [Role.OPERATOR]))

    assert api.post("/v1/runs/approval-r-2/suspend", headers=approver).status_code == 403
    assert api.post("/v1/approvals/r-2/approve", headers=operator).status_code == 403
    assert api.post("/v1/approvals/r-2/approve", headers=approver).status_code == 202


def test_the_customer_who_placed_an_order_cannot_approve_it(
    api: TestClient, client: wf.DaprWorkflowClient, issuer: LocalIssuer
) -> None:
    api.post("/v1/workflows/approval/runs", json={"input": approval_request("r-3")})
    started(client, "approval-r-3")
    customer = bearer(issuer.mint("cust-1", [Role.APPROVER]))  # the request's customerId

    approve = api.post("/v1/approvals/r-3/approve", headers=customer)
    reject = api.post("/v1/approvals/r-3/reject", json={"reason": "mine"}, headers=customer)

    for response in (approve, reject):
        assert response.status_code == 403
        assert response.json()["code"] == ErrorCode.SELF_APPROVAL_FORBIDDEN
    assert status_of(client, "approval-r-3") == wf.WorkflowStatus.RUNNING


def test_without_an_issuer_every_call_is_refused_and_disabled_auth_lets_all_in(
    make_app: Callable[..., FastAPI], runtime: wf.WorkflowRuntime, issuer: LocalIssuer
) -> None:
    token = bearer(issuer.mint("alice", list(Role)))
    with TestClient(make_app(verifier=None)) as closed:
        refused = closed.get("/v1/runs", headers=token)
        assert refused.status_code == 401
        assert "no token issuer" in refused.json()["detail"]
    with TestClient(make_app(verifier=None, auth_disabled=True)) as open_api:
        assert open_api.get("/v1/runs").status_code == 200


def test_roles_come_from_the_configured_claim_and_unknown_names_are_ignored() -> None:
    claims = {"roles": ["viewer", "admin"], "realm_access": {"roles": ["operator"]}, "scp": ""}

    assert roles_of(claims, "roles") == {Role.VIEWER}
    assert roles_of(claims, "realm_access.roles") == {Role.OPERATOR}
    assert roles_of({"scope": "approver viewer"}, "scope") == {Role.APPROVER, Role.VIEWER}
    assert roles_of(claims, "missing.claim") == frozenset()


@pytest.fixture
def jwks_server(issuer: LocalIssuer) -> Iterator[str]:
    """The issuer's public key as an OIDC provider publishes it: a JWKS over HTTP."""
    public = jwt.algorithms.ECAlgorithm.from_jwk(
        jwt.algorithms.ECAlgorithm.to_jwk(
            jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(
                issuer.public_key_file.read_bytes()
            )
        )
    )
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_tokens_are_checked_against_an_oidc_providers_jwks(
    jwks_server: str, issuer: LocalIssuer
) -> None:
    verifier = TokenVerifier(issuer.issuer, issuer.audience, jwks_url=jwks_server)
    key = issuer.private_key_file.read_bytes()
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "iat": now, "exp": now + 60}
    token = jwt.encode(
        {**claims, "sub": "alice", "roles": ["approver"], "name": "Alice"},
        key,
        algorithm="ES256",
        headers={"kid": "k1"},
    )

    identity = verifier.verify(token)

    assert identity.subject == "alice"
    assert identity.roles == frozenset({Role.APPROVER})
    assert identity.name == "Alice"
    unknown_key = jwt.encode({**claims, "sub": "x"}, key, algorithm="ES256", headers={"kid": "k9"})
    with pytest.raises(InvalidToken):
        verifier.verify(unknown_key)


def test_readiness_reports_each_dependency(api: TestClient) -> None:
    response = api.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"sidecar": "ok", "workflows": "ok"}}


def test_health_answers_ok(api: TestClient) -> None:
    response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_routes_and_methods_answer_problem_details(api: TestClient) -> None:
    unknown = api.get("/v1/nothing-here")
    wrong_method = api.put("/v1/runs/x")

    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json() == {
        "type": "urn:saga-platform:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/v1/nothing-here",
        "code": "NOT_FOUND",
    }
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_the_openapi_document_describes_every_route_status_and_the_problem_body(
    api: TestClient,
) -> None:
    spec = api.get("/openapi.json").json()

    assert spec["info"]["title"] == "Saga platform management API"
    assert set(spec["paths"]) == {
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/workflows/{name}/runs",
        "/v1/runs",
        "/v1/runs/purge",
        "/v1/runs/{instanceId}",
        "/v1/runs/{instanceId}/history",
        "/v1/runs/{instanceId}/history/mermaid",
        "/v1/runs/{instanceId}/trace",
        "/v1/runs/{instanceId}/events/{eventName}",
        "/v1/runs/{instanceId}/suspend",
        "/v1/runs/{instanceId}/resume",
        "/v1/runs/{instanceId}/terminate",
        "/v1/runs/{instanceId}/rerun",
        "/v1/approvals",
        "/v1/approvals/{orderId}/approve",
        "/v1/approvals/{orderId}/reject",
        "/v1/orders",
        "/v1/orders/{orderId}/cancel",
        "/v1/inventory/stock",
        "/v1/audit",
        "/v1/dead-letters",
        "/v1/dead-letters/{id}",
        "/v1/dead-letters/{id}/replay",
    }
    operations = [op for path in spec["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(set(ids)) == len(ids)
    assert all(op_id.isalnum() and op_id[0].islower() for op_id in ids), ids
    start = spec["paths"]["/v1/workflows/{name}/runs"]["post"]
    assert start["operationId"] == "startRun"
    assert {"201", "401", "403", "404", "409", "422", "500", "503"} <= set(start["responses"])
    assert start["responses"]["409"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    for operation in operations:
        protected = "security" in operation
        assert protected == ({"401", "403"} <= set(operation["responses"])), operation
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(
        spec["components"]["schemas"]["Problem"]["required"]
    )
