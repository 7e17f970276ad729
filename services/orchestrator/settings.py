"""The orchestrator's settings, read from the environment in this one place.

Workflow code never reads them: the saga settings become a `SagaConfig` that travels in each
workflow's input, so a run replays with the settings it started with, whatever the
environment says later. A value that does not parse stops the process at start-up with one
line naming the variable, rather than running with a surprise default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings

from foundation.durations import parse_go_duration
from foundation.settings import ENV, SettingsError, load
from foundation.tokens import API_AUDIENCE, LOCAL_ISSUER, ROLES_CLAIM
from services.contracts.names import AppId
from services.orchestrator.workflow_io import SagaConfig

__all__ = ["OrchestratorSettings", "SettingsError"]

_SAGA = SagaConfig()
Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


def _go_duration(value: Any) -> Any:
    return parse_go_duration(value) if isinstance(value, str) else value


# A Go duration (`168h`, `90m`), as Dapr writes durations.
Duration = Annotated[timedelta, BeforeValidator(_go_duration)]


class OrchestratorSettings(BaseSettings):
    """Everything the orchestrator process takes from its environment.

    | variable | default | meaning |
    |---|---|---|
    | `APP_ID` | `orchestrator` | Dapr app id (named in dead letters) |
    | `APP_PORT` | `6004` | gRPC app-callback port the sidecar delivers pub/sub to |
    | `APP_HOST` | `127.0.0.1` | address the app-callback server binds |
    | `API_PORT` | `8080` | management API port (`0` turns the API off) |
    | `API_HOST` | `127.0.0.1` | address the API binds (`0.0.0.0` in a pod) |
    | `AUTH_ISSUER` | `saga-platform-local` | the `iss` every token must carry |
    | `AUTH_AUDIENCE` | `saga-api` | the `aud` every token must carry |
    | `AUTH_JWKS_URL` | unset | the OIDC provider's JWKS (clusters) |
    | `AUTH_PUBLIC_KEY_FILE` | unset | a PEM public key instead (the local issuer of `make run`) |
    | `AUTH_ROLES_CLAIM` | `roles` | the claim holding the roles (dotted for nested claims) |
    | `AUTH_DISABLED` | `false` | `true`: no authentication at all (an isolated machine only) |
    | `CONSOLE_ASSETS_DIR` | `console/node_modules` of the checkout | browser libraries (console) |
    | `APPROVAL_THRESHOLD_CENTS` | `100000` | orders above this amount need an approval |
    | `STEP_TIMEOUT_SECONDS` | `30` | how long a saga step waits for its reply |
    | `APPROVAL_TIMEOUT_SECONDS` | `259200` (72 h) | how long an approval waits for a decision |
    | `APPROVAL_REMINDER_SECONDS` | `86400` (24 h) | reminder after this long; `0` = none |
    | `COMPENSATION_ATTEMPTS` | `5` | sends of one compensation before giving up |
    | `COMPENSATION_TIMEOUT_SECONDS` | `30` | wait for each compensation attempt's reply |
    | `RUN_RETENTION` | `168h` | finished runs are purged this long after they end; `0`: kept |
    | `RUN_RETENTION_INTERVAL` | `5m` | how often runs past their retention are purged |
    | `LOG_LEVEL` | `info` | `debug`, `info`, `warning`, `error` |
    | `TRACE_STORE` | unset | the local span store the API reads (`foundation.span_store`) |

    The `OTEL_*` variables are read by `foundation.tracing`.
    """

    model_config = ENV

    app_id: str = str(AppId.ORCHESTRATOR)
    app_port: Port = 6004
    app_host: str = "127.0.0.1"
    api_port: Port = 8080
    api_host: str = "127.0.0.1"
    auth_issuer: str = LOCAL_ISSUER
    auth_audience: str = API_AUDIENCE
    auth_jwks_url: str | None = None
    auth_public_key_file: Path | None = None
    auth_roles_claim: str = ROLES_CLAIM
    auth_disabled: bool = False
    console_assets_dir: Path | None = None
    approval_threshold_cents: Annotated[int, Field(ge=0)] = _SAGA.approval_threshold_cents
    step_timeout_seconds: Seconds = _SAGA.step_timeout_seconds
    approval_timeout_seconds: Seconds = _SAGA.approval_timeout_seconds
    approval_reminder_seconds: Annotated[float, Field(ge=0)] = _SAGA.approval_reminder_seconds or 0
    compensation_attempts: Annotated[int, Field(ge=1)] = _SAGA.compensation_attempts
    compensation_timeout_seconds: Seconds = _SAGA.compensation_timeout_seconds
    run_retention: Duration = timedelta(hours=168)
    run_retention_interval: Duration = timedelta(minutes=5)
    trace_store: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorSettings:
        """The settings from `env` (default: the process environment)."""
        return load(cls, env)

    @model_validator(mode="after")
    def _one_key_source(self) -> OrchestratorSettings:
        if self.auth_jwks_url and self.auth_public_key_file:
            raise ValueError("set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE, not both")
        if self.auth_public_key_file and not self.auth_public_key_file.is_file():
            raise ValueError(f"AUTH_PUBLIC_KEY_FILE {self.auth_public_key_file} is not a file")
        if self.run_retention < timedelta(0) or self.run_retention_interval <= timedelta(0):
            raise ValueError("RUN_RETENTION must be 0 or more, RUN_RETENTION_INTERVAL above 0")
        return self

    @property
    def saga_config(self) -> SagaConfig:
        return SagaConfig(
            approval_threshold_cents=self.approval_threshold_cents,
            step_timeout_seconds=self.step_timeout_seconds,
            approval_timeout_seconds=self.approval_timeout_seconds,
            approval_reminder_seconds=self.approval_reminder_seconds or None,
            compensation_attempts=self.compensation_attempts,
            compensation_timeout_seconds=self.compensation_timeout_seconds,
        )
