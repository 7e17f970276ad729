"""What the management API is configured with; the orchestrator's `__main__` builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.orchestrator.workflow_io import SagaConfig


@dataclass(frozen=True)
class ApiSettings:
    # Bearer token every route but `/healthz` (and the OpenAPI docs) requires; None: open.
    token: str | None = None
    # Wrapped around a bare order when a saga (or a batch) is started through the API.
    saga_config: SagaConfig = field(default_factory=SagaConfig)
    # Upper bound on `pageSize` for `GET /v1/runs`.
    max_page_size: int = 500
