"""How the client reads the management API's answers. The operator's end-to-end tests drive it
against the real API; these pin the answers that are awkward to provoke there (a wrong URL,
server errors, a dead port) through an httpx transport that answers like the API would."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from testkit.ports import free_port
from workflowrun_operator.client import (
    AlreadyExists,
    Conflict,
    Invalid,
    NotFound,
    OrchestratorClient,
    OrchestratorError,
    Unauthorized,
    Unavailable,
    UnknownWorkflow,
)
from workflowrun_operator.credentials import ClientCredentials


def answering(status: int, code: str | None = None) -> httpx.MockTransport:
    def respond(request: httpx.Request) -> httpx.Response:
        if code is None:
            return httpx.Response(status, text="upstream says no")
        problem = {"type": "urn:x", "title": code, "status": status, "detail": f"{code} here"}
        return httpx.Response(
            status,
            json={**problem, "instance": "/v1/x", "code": code},
            headers={"Content-Type": "application/problem+json"},
        )

    return httpx.MockTransport(respond)


async def start(transport: httpx.MockTransport) -> str:
    client = OrchestratorClient("http://api", transport=transport)
    try:
        return await client.start_run("approval", {"a": 1}, "wfr-x")
    finally:
        await client.aclose()


async def get(transport: httpx.MockTransport) -> object:
    client = OrchestratorClient("http://api", transport=transport)
    try:
        return await client.get_run("wfr-x")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("status", "code", "call", "error"),
    [
        (404, "WORKFLOW_NAME_NOT_FOUND", start, UnknownWorkflow),
        (404, "WORKFLOW_NOT_FOUND", get, NotFound),
        (404, "NOT_FOUND", get, Unavailable),  # no such route: ORCHESTRATOR_URL is wrong
        (404, None, start, Unavailable),
        (409, "WORKFLOW_ALREADY_EXISTS", start, AlreadyExists),
        (409, "WORKFLOW_NOT_RUNNING", get, Conflict),
        (422, "VALIDATION_FAILED", start, Invalid),
        (400, "INVALID_ARGUMENT", start, Invalid),
        (401, "UNAUTHORIZED", get, Unauthorized),
        (403, "FORBIDDEN", get, Unauthorized),
        (502, "SIDECAR_ERROR", get, Unavailable),
        (503, "SIDECAR_UNAVAILABLE", get, Unavailable),
        (500, None, start, Unavailable),
    ],
)
async def test_answers_become_typed_errors(
    status: int,
    code: str | None,
    call: Callable[[httpx.MockTransport], object],
    error: type[OrchestratorError],
) -> None:
    with pytest.raises(error) as raised:
        await call(answering(status, code))  # type: ignore[misc]
    assert type(raised.value) is error
    assert raised.value.status == status
    assert raised.value.code == code


async def test_an_unreachable_api_is_unavailable() -> None:
    client = OrchestratorClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    try:
        with pytest.raises(Unavailable):
            await client.get_run("wfr-x")
    finally:
        await client.aclose()


async def test_requests_carry_the_token_and_escape_ids() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"instanceId": "a/b"})

    client = OrchestratorClient(
        "http://api", token="s3cret", transport=httpx.MockTransport(respond)
    )
    try:
        await client.raise_event("a/b", "approval decision", {"ok": True})
    finally:
        await client.aclose()

    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert seen[0].url.raw_path == b"/v1/runs/a%2Fb/events/approval%20decision"


async def test_client_credentials_are_fetched_once_and_renewed_after_a_401() -> None:
    """The operator's token from the OIDC provider's token endpoint (client-credentials
    grant): reused while valid, fetched anew when the API refuses it."""
    grants: list[httpx.Request] = []
    calls: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        grants.append(request)
        return httpx.Response(200, json={"access_token": f"t{len(grants)}", "expires_in": 3600})

    def api(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        calls.append(token)
        if token == "t1" and len(calls) > 2:  # the provider rotated its key
            return httpx.Response(401, json={"code": "UNAUTHORIZED", "detail": "expired"})
        return httpx.Response(200, json={"instanceId": "wfr-x", "status": "RUNNING"})

    credentials = ClientCredentials(
        "http://idp/token",
        "workflowrun-operator",
        "s3cret",
        scope="saga-api",
        transport=httpx.MockTransport(provider),
    )
    client = OrchestratorClient(
        "http://api", credentials=credentials, transport=httpx.MockTransport(api)
    )
    try:
        for _ in range(3):
            await client.get_run("wfr-x")
    finally:
        await client.aclose()

    assert calls == ["t1", "t1", "t1", "t2"]
    assert len(grants) == 2
    form = dict(pair.split("=") for pair in grants[0].content.decode().split("&"))
    assert form == {"grant_type": "client_credentials", "scope": "saga-api"}
    assert grants[0].headers["Authorization"].startswith("Basic ")
