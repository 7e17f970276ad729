"""An async client of the orchestrator's management API, in the operator's terms.

Each call answers with a value or raises one of the typed errors below; the handlers branch on
the error's type, never on a message. The API's own error codes (the `code` of its RFC 9457
problem details) pick the type where the HTTP status alone is ambiguous (a 404 for an
unknown workflow name versus an unknown run; a 409 for a duplicate start versus a run that
is not running). The bearer token comes from a `TokenSource`, asked again once after a 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from workflowrun_operator.credentials import (
    ClientCredentials,
    CredentialsError,
    FixedToken,
    TokenSource,
)


class OrchestratorError(Exception):
    """Any answer of the management API that is not a success."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class NotFound(OrchestratorError):
    """No such run (404)."""


class UnknownWorkflow(NotFound):
    """No workflow of that name is registered in the orchestrator (404 on start)."""


class Conflict(OrchestratorError):
    """The run is not in a state that allows the call (409): finished, or still running."""


class AlreadyExists(Conflict):
    """A run with that instance id exists already (409 on start)."""


class Invalid(OrchestratorError):
    """The request was refused as invalid (400, 413, 422): retrying it cannot help."""


class Unauthorized(OrchestratorError):
    """The API refused the operator's token (401, 403)."""


class Unavailable(OrchestratorError):
    """The API could not be reached, timed out, or failed on its side (5xx)."""


@dataclass(frozen=True)
class RunFailure:
    type: str
    message: str


@dataclass(frozen=True)
class RunState:
    """One workflow run as `GET /v1/runs/{id}` describes it."""

    instance_id: str
    name: str
    runtime_status: str
    created_at: str | None
    last_updated_at: str | None
    input: Any
    output: Any
    custom_status: Any
    failure: RunFailure | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RunState:
        failure = body.get("failure")
        return cls(
            instance_id=str(body["instanceId"]),
            name=str(body.get("name") or ""),
            runtime_status=str(body.get("status") or "").upper(),
            created_at=body.get("createdAt"),
            last_updated_at=body.get("lastUpdatedAt"),
            input=body.get("input"),
            output=body.get("output"),
            custom_status=body.get("customStatus"),
            failure=RunFailure(
                type=str(failure.get("type") or ""), message=str(failure.get("message") or "")
            )
            if isinstance(failure, dict)
            else None,
        )


_MISSING_WORKFLOW_CODES = frozenset({"WORKFLOW_NOT_FOUND", "WORKFLOW_NAME_NOT_FOUND"})


def _segment(value: str) -> str:
    return quote(value, safe="")


class OrchestratorClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        credentials: TokenSource | None = None,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._credentials = credentials or FixedToken(token)
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_seconds, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        if isinstance(self._credentials, ClientCredentials):
            await self._credentials.aclose()

    async def start_run(self, workflow_name: str, run_input: Any, instance_id: str) -> str:
        """Starts a run; `AlreadyExists` if `instance_id` is taken, `UnknownWorkflow`, `Invalid`."""
        body = await self._call(
            "POST",
            f"/v1/workflows/{_segment(workflow_name)}/runs",
            {"input": run_input, "instanceId": instance_id},
            on_not_found=UnknownWorkflow,
            on_conflict=AlreadyExists,
        )
        return str(body.get("instanceId") or instance_id)

    async def get_run(self, instance_id: str) -> RunState:
        body = await self._call("GET", f"/v1/runs/{_segment(instance_id)}")
        return RunState.from_json(body)

    async def raise_event(self, instance_id: str, event_name: str, data: Any) -> None:
        await self._call(
            "POST",
            f"/v1/runs/{_segment(instance_id)}/events/{_segment(event_name)}",
            {"data": data},
        )

    async def suspend(self, instance_id: str, reason: str | None = None) -> None:
        await self._call("POST", f"/v1/runs/{_segment(instance_id)}/suspend", {"reason": reason})

    async def resume(self, instance_id: str, reason: str | None = None) -> None:
        await self._call("POST", f"/v1/runs/{_segment(instance_id)}/resume", {"reason": reason})

    async def terminate(self, instance_id: str, output: Any = None) -> None:
        await self._call("POST", f"/v1/runs/{_segment(instance_id)}/terminate", {"output": output})

    async def purge(self, instance_id: str) -> None:
        """Deletes a finished run's state; `Conflict` while it still runs."""
        await self._call("DELETE", f"/v1/runs/{_segment(instance_id)}")

    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        on_not_found: type[NotFound] = NotFound,
        on_conflict: type[Conflict] = Conflict,
    ) -> dict[str, Any]:
        response = await self._send(method, path, payload)
        if response.status_code == 401:  # an expired or rotated token: once more, anew
            response = await self._send(method, path, payload, renew=True)
        if response.is_success:
            if not response.content:
                return {}
            try:
                body = response.json()
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}
        raise _error_for(method, path, response, on_not_found, on_conflict)

    async def _send(
        self, method: str, path: str, payload: dict[str, Any] | None, *, renew: bool = False
    ) -> httpx.Response:
        try:
            token = await self._credentials.token(renew=renew)
        except CredentialsError as error:
            raise Unauthorized(f"{method} {path}: no token: {error}") from error
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await self._http.request(method, path, json=payload, headers=headers)
        except httpx.TransportError as error:  # connect, read, write, timeouts, protocol
            raise Unavailable(f"{method} {path}: {type(error).__name__}: {error}") from error


def _error_for(
    method: str,
    path: str,
    response: httpx.Response,
    on_not_found: type[NotFound],
    on_conflict: type[Conflict],
) -> OrchestratorError:
    status = response.status_code
    code: str | None = None
    detail = response.text[:500]
    try:
        problem = response.json()
        code = problem.get("code")
        detail = problem.get("detail") or detail
    except (ValueError, AttributeError):
        pass
    message = f"{method} {path} -> {status} {code or ''}: {detail}".replace("  ", " ")
    kind: type[OrchestratorError]
    if status == 404 and code in _MISSING_WORKFLOW_CODES:
        # A start answers 404 for an unknown workflow name, any other call for an unknown run.
        kind = on_not_found
    elif status == 404:
        # A 404 without the API's codes is a route that does not exist: ORCHESTRATOR_URL points
        # at something else. Retrying (and saying so in Synced) beats failing every run for good.
        kind = Unavailable
        message = f"{message} (is ORCHESTRATOR_URL the orchestrator's management API?)"
    elif status == 409:
        kind = AlreadyExists if code == "WORKFLOW_ALREADY_EXISTS" else on_conflict
    elif status in (400, 413, 422):
        kind = Invalid
    elif status in (401, 403):
        kind = Unauthorized
    else:
        kind = Unavailable
    return kind(message, status=status, code=code)
