"""The operator's settings, read from the environment in this one place.

A value that does not parse stops the operator at start-up with a message naming the variable,
rather than running with a surprise default.

| variable | default | meaning |
|---|---|---|
| `ORCHESTRATOR_URL` | `http://127.0.0.1:8080` | base URL of the orchestrator's management API |
| `ORCHESTRATOR_TOKEN` | unset | bearer token the API requires, when it requires one |
| `ORCHESTRATOR_TIMEOUT_SECONDS` | `10` | timeout of one API request |
| `SYNC_INTERVAL_SECONDS` | `10` | how often a run that is not finished is synced into status |
| `RETRY_BASE_SECONDS` | `2` | first delay after the orchestrator was unreachable (doubles) |
| `RETRY_MAX_SECONDS` | `60` | the delay stops doubling here |
| `FINALIZER` | `saga.dapr.io/workflowrun-cleanup` | the finalizer the operator puts on runs |
| `WATCH_NAMESPACES` | unset | comma-separated namespaces to serve (else all) |
| `LIVENESS_ENDPOINT` | `http://0.0.0.0:8080/healthz` | kopf's liveness probe endpoint |
| `LOG_FORMAT` | `json` | `json` (one object per line, with the resource) or `full` (text) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_FINALIZER = "saga.dapr.io/workflowrun-cleanup"


class SettingsError(ValueError):
    """An environment variable that does not hold a valid value; the message names it."""


@dataclass(frozen=True)
class OperatorSettings:
    orchestrator_url: str = "http://127.0.0.1:8080"
    orchestrator_token: str | None = None
    orchestrator_timeout_seconds: float = 10.0
    sync_interval_seconds: float = 10.0
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 60.0
    finalizer: str = DEFAULT_FINALIZER
    watch_namespaces: tuple[str, ...] = ()
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        environ = os.environ if env is None else env
        defaults = cls()
        url = environ.get("ORCHESTRATOR_URL", defaults.orchestrator_url).strip()
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"ORCHESTRATOR_URL must be an http(s) URL, got {url!r}")
        return cls(
            orchestrator_url=url.rstrip("/"),
            orchestrator_token=environ.get("ORCHESTRATOR_TOKEN") or None,
            orchestrator_timeout_seconds=_positive(
                environ, "ORCHESTRATOR_TIMEOUT_SECONDS", defaults.orchestrator_timeout_seconds
            ),
            sync_interval_seconds=_positive(
                environ, "SYNC_INTERVAL_SECONDS", defaults.sync_interval_seconds
            ),
            retry_base_seconds=_positive(
                environ, "RETRY_BASE_SECONDS", defaults.retry_base_seconds
            ),
            retry_max_seconds=_positive(environ, "RETRY_MAX_SECONDS", defaults.retry_max_seconds),
            finalizer=environ.get("FINALIZER") or defaults.finalizer,
            watch_namespaces=tuple(
                namespace.strip()
                for namespace in environ.get("WATCH_NAMESPACES", "").split(",")
                if namespace.strip()
            ),
            liveness_endpoint=environ.get("LIVENESS_ENDPOINT") or defaults.liveness_endpoint,
            log_format=_choice(
                environ, "LOG_FORMAT", defaults.log_format, ("json", "full", "plain")
            ),
        )

    def kopf_run_args(self) -> list[str]:
        """The `kopf run` command line of the operator process."""
        scope = (
            [arg for namespace in self.watch_namespaces for arg in ("--namespace", namespace)]
            if self.watch_namespaces
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


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value
