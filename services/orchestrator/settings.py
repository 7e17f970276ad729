"""The orchestrator's settings, read from the environment in this one place.

Workflow code never reads them: the saga settings become a `SagaConfig` that travels in each
workflow's input, so a run replays with the settings it started with, whatever the
environment says later. A value that does not parse stops the process at start-up with a
message naming the variable, rather than running with a surprise default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from services.contracts.names import AppId
from services.orchestrator.models import SagaConfig

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable that does not hold a valid value; the message names it."""


@dataclass(frozen=True)
class OrchestratorSettings:
    """Everything the orchestrator process takes from its environment.

    | variable | default | meaning |
    |---|---|---|
    | `APP_ID` | `orchestrator` | Dapr app id (named in dead letters) |
    | `APP_PORT` | `6004` | gRPC app-callback port the sidecar delivers pub/sub to |
    | `APP_HOST` | `127.0.0.1` | address the app-callback server binds |
    | `API_PORT` | `8080` | management API port (`0` turns the API off) |
    | `API_HOST` | `127.0.0.1` | address the API binds (`0.0.0.0` in a pod) |
    | `API_TOKEN` | unset | bearer token the API requires when set |
    | `APPROVAL_THRESHOLD_CENTS` | `100000` | orders above this amount need an approval |
    | `STEP_TIMEOUT_SECONDS` | `30` | how long a saga step waits for its reply |
    | `APPROVAL_TIMEOUT_SECONDS` | `259200` (72 h) | how long an approval waits for a decision |
    | `APPROVAL_REMINDER_SECONDS` | `86400` (24 h) | reminder after this long; `0` = none |
    | `COMPENSATION_ATTEMPTS` | `5` | sends of one compensation before giving up |
    | `COMPENSATION_TIMEOUT_SECONDS` | `30` | wait for each compensation attempt's reply |
    """

    app_id: str = str(AppId.ORCHESTRATOR)
    app_port: int = 6004
    app_host: str = "127.0.0.1"
    api_port: int = 8080
    api_host: str = "127.0.0.1"
    api_token: str | None = None
    saga_config: SagaConfig = field(default_factory=SagaConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorSettings:
        environ = os.environ if env is None else env
        defaults = cls()
        config_defaults = SagaConfig()

        def read(name: str, parse: Callable[[str], T], default: T) -> T:
            text = environ.get(name, "").strip()
            if not text:
                return default
            try:
                return parse(text)
            except ValueError:
                raise SettingsError(f"{name}={text!r} is not a valid value") from None

        reminder = read(
            "APPROVAL_REMINDER_SECONDS", float, config_defaults.approval_reminder_seconds
        )
        try:
            saga_config = SagaConfig(
                approval_threshold_cents=read(
                    "APPROVAL_THRESHOLD_CENTS", int, config_defaults.approval_threshold_cents
                ),
                step_timeout_seconds=read(
                    "STEP_TIMEOUT_SECONDS", float, config_defaults.step_timeout_seconds
                ),
                approval_timeout_seconds=read(
                    "APPROVAL_TIMEOUT_SECONDS", float, config_defaults.approval_timeout_seconds
                ),
                approval_reminder_seconds=reminder if reminder else None,
                compensation_attempts=read(
                    "COMPENSATION_ATTEMPTS", int, config_defaults.compensation_attempts
                ),
                compensation_timeout_seconds=read(
                    "COMPENSATION_TIMEOUT_SECONDS",
                    float,
                    config_defaults.compensation_timeout_seconds,
                ),
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise SettingsError(f"invalid saga settings: {problems}") from None
        return cls(
            app_id=environ.get("APP_ID") or defaults.app_id,
            app_port=read("APP_PORT", _port, defaults.app_port),
            app_host=environ.get("APP_HOST") or defaults.app_host,
            api_port=read("API_PORT", _port, defaults.api_port),
            api_host=environ.get("API_HOST") or defaults.api_host,
            api_token=environ.get("API_TOKEN") or None,
            saga_config=saga_config,
        )


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    return port
