"""The operator's settings, read from the environment in this one place.

A value that does not parse stops the operator at start-up with one line naming the
variable, rather than running with a surprise default.

| variable | default | meaning |
|---|---|---|
| `ORCHESTRATOR_URL` | `http://127.0.0.1:8080` | base URL of the orchestrator's management API |
| `ORCHESTRATOR_TOKEN` | unset | a fixed bearer token (JWT with the `operator` role) |
| `ORCHESTRATOR_AUTH_URL` | unset | the OIDC provider's token endpoint: client credentials |
| `ORCHESTRATOR_CLIENT_ID` / `ORCHESTRATOR_CLIENT_SECRET` | unset | the operator's client |
| `ORCHESTRATOR_AUTH_SCOPE` / `ORCHESTRATOR_AUTH_AUDIENCE` | unset | sent with the grant |
| `ORCHESTRATOR_TIMEOUT_SECONDS` | `10` | timeout of one API request |
| `SYNC_INTERVAL_SECONDS` | `10` | how often a run that is not finished is synced into status |
| `RETRY_BASE_SECONDS` | `2` | first delay after the orchestrator was unreachable (doubles) |
| `RETRY_MAX_SECONDS` | `60` | the delay stops doubling here |
| `FINALIZER` | `saga.dapr.io/workflowrun-cleanup` | the finalizer the operator puts on runs |
| `WATCH_NAMESPACES` | unset | comma-separated namespaces to serve (else all) |
| `LIVENESS_ENDPOINT` | `http://0.0.0.0:8080/healthz` | kopf's liveness probe endpoint |
| `LOG_FORMAT` | `json` | `json` (the platform's JSON lines, with the resource) or `full` (text) |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from foundation.settings import ENV, SettingsError, load
from workflowrun_operator.credentials import ClientCredentials, FixedToken, TokenSource

__all__ = ["DEFAULT_FINALIZER", "OperatorSettings", "SettingsError"]

DEFAULT_FINALIZER = "saga.dapr.io/workflowrun-cleanup"
Seconds = Annotated[float, Field(gt=0)]


class OperatorSettings(BaseSettings):
    model_config = ENV

    orchestrator_url: str = "http://127.0.0.1:8080"
    orchestrator_token: str | None = None
    orchestrator_auth_url: str | None = None
    orchestrator_client_id: str | None = None
    orchestrator_client_secret: str | None = None
    orchestrator_auth_scope: str | None = None
    orchestrator_auth_audience: str | None = None
    orchestrator_timeout_seconds: Seconds = 10.0
    sync_interval_seconds: Seconds = 10.0
    retry_base_seconds: Seconds = 2.0
    retry_max_seconds: Seconds = 60.0
    finalizer: str = DEFAULT_FINALIZER
    # Comma-separated, as the variable is written (a tuple would be read as JSON).
    watch_namespaces: str = ""
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    log_format: Literal["json", "full", "plain"] = "json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        """The settings from `env` (default: the process environment)."""
        return load(cls, env)

    @field_validator("orchestrator_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        url = url.strip()
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_credential(self) -> OperatorSettings:
        if self.orchestrator_auth_url and self.orchestrator_token:
            raise ValueError("set ORCHESTRATOR_TOKEN or ORCHESTRATOR_AUTH_URL, not both")
        if self.orchestrator_auth_url and not (
            self.orchestrator_client_id and self.orchestrator_client_secret
        ):
            raise ValueError(
                "ORCHESTRATOR_AUTH_URL needs ORCHESTRATOR_CLIENT_ID and ORCHESTRATOR_CLIENT_SECRET"
            )
        return self

    def credentials(self) -> TokenSource:
        """The operator's token source: client credentials, or the fixed token."""
        if self.orchestrator_auth_url:
            return ClientCredentials(
                self.orchestrator_auth_url,
                self.orchestrator_client_id or "",
                self.orchestrator_client_secret or "",
                scope=self.orchestrator_auth_scope,
                audience=self.orchestrator_auth_audience,
                timeout_seconds=self.orchestrator_timeout_seconds,
            )
        return FixedToken(self.orchestrator_token)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces to serve; none: all of them."""
        return tuple(n.strip() for n in self.watch_namespaces.split(",") if n.strip())

    def kopf_run_args(self) -> list[str]:
        """The `kopf run` command line of the operator process."""
        scope = (
            [arg for namespace in self.namespaces for arg in ("--namespace", namespace)]
            if self.namespaces
            else ["--all-namespaces"]
        )
        return [
            "run",
            # One replica, no peering objects: see operator/README.md (RBAC, peering).
            "--standalone",
            *scope,
            f"--liveness={self.liveness_endpoint}",
            f"--log-format={self.log_format}",
            "-m",
            "workflowrun_operator.handlers",
        ]

    def retry_delay(self, retry: int) -> float:
        """Backoff before retry number `retry` (0-based) after the orchestrator was unreachable."""
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2 ** min(retry, 16)))
