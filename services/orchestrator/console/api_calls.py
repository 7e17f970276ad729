"""The console reads and acts through the management API itself, in process (httpx over
ASGI, no socket), with the person's own token: the API checks the roles, writes the audit
trail and refuses what it refuses, and the console shows its answer, a refusal's
problem+json `detail` word for word. The console never decides what the API allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from services.orchestrator.console.session import token_of

_BASE = "http://management-api"


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def detail(self) -> str:
        """A refusal's message: the problem's `detail`, else its `title`, else the status."""
        if isinstance(self.body, dict):
            detail = self.body.get("detail") or self.body.get("title")
            if detail:
                return str(detail)
        return f"the API answered {self.status}"

    @property
    def code(self) -> str | None:
        return (
            str(self.body["code"]) if isinstance(self.body, dict) and "code" in self.body else None
        )


async def call_api(
    request: Request,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> ApiAnswer:
    """`method path` on this process's API as the person whose cookie `request` carries."""
    token = token_of(request)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=_BASE, headers=headers) as client:
        kwargs: dict[str, Any] = {"params": params}
        if json is not None:
            kwargs["json"] = json
        response = await client.request(method, path, **kwargs)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return ApiAnswer(response.status_code, body)
