"""What the management API is configured with; the orchestrator's `__main__` builds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.orchestrator.api.identity import TokenVerifier
from services.orchestrator.workflow_io import SagaConfig


@dataclass(frozen=True)
class ApiSettings:
    # Checks the bearer token every route but health, readiness, metrics and the docs
    # requires. None with `auth_disabled` False: every such route answers 401 (fail closed).
    verifier: TokenVerifier | None = None
    # Turns authentication off: every caller holds every role (an isolated machine only).
    auth_disabled: bool = False
    # Wrapped around a bare order when a saga (or a batch) is started through the API.
    saga_config: SagaConfig = field(default_factory=SagaConfig)
    # Upper bound on `pageSize` for `GET /v1/runs` (and the audit and dead-letter listings).
    max_page_size: int = 500
    # Whether this process's workflow worker is connected (`GET /readyz`); None: not known.
    worker_ready: Callable[[], bool] | None = None
    # The local span store the apps write (`TRACE_STORE`), read by `GET /v1/runs/{id}/trace`;
    # None: spans go to a collector only, and the route says so.
    trace_store: Path | None = None
    # Whether the server is shutting down: the console's live streams end then, rather
    # than holding the graceful shutdown open. None: never asked.
    shutting_down: Callable[[], bool] | None = None
    # The console's browser libraries (`npm ci` in console/); None: the checkout's.
    console_assets: Path | None = None
