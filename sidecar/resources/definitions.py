"""Dapr resources as the sidecar understands them: components, subscriptions, resiliency.

Mirrors the fields of daprd's resource YAML that the embedded sidecar honours; the loader
rejects what it does not support rather than ignoring it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Component:
    name: str
    type: str
    version: str
    metadata: dict[str, str]
    scopes: tuple[str, ...]
    source: str

    @property
    def kind(self) -> str:
        """`state`, `pubsub`, ...: the part of `type` before the first dot."""
        return self.type.split(".", 1)[0]

    def database_path(self, data_dir: Path, suffix: str) -> Path | None:
        """The SQLite file of a SQLite-backed component, None for an in-memory one.

        `connectionString` names it (a relative path is taken under the sidecar's data
        dir, which every sidecar of a Multi-App Run shares); the default is
        `<data-dir>/<name>.<suffix>.sqlite`.
        """
        configured = self.metadata.get("connectionString", "")
        if self.type.endswith(".in-memory") or configured == ":memory:":
            return None
        if not configured:
            return data_dir / f"{self.name}.{suffix}.sqlite"
        path = Path(configured.removeprefix("file:").split("?", 1)[0])
        return path if path.is_absolute() else data_dir / path

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.metadata.get(key)
        return default if value is None else value.strip().lower() in {"true", "1", "yes"}


@dataclass(frozen=True)
class Rule:
    match: str
    path: str


@dataclass(frozen=True)
class Subscription:
    """A declarative (`Subscription` resource) or programmatic (app-declared) subscription."""

    name: str
    pubsub: str
    topic: str
    rules: tuple[Rule, ...] = ()
    default_route: str = ""
    dead_letter_topic: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Dapr's resiliency retry policy: constant or exponential; -1 retries forever."""

    policy: str = "constant"
    duration_seconds: float = 1.0
    max_interval_seconds: float = 60.0
    max_retries: int = -1

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if self.policy == "exponential":
            base = self.duration_seconds or 0.5
            return float(min(base * (2 ** (attempt - 1)), self.max_interval_seconds))
        return self.duration_seconds

    def gives_up_after(self, attempts: int) -> bool:
        """True when `attempts` deliveries failed and no retry remains."""
        return self.max_retries >= 0 and attempts > self.max_retries


@dataclass(frozen=True)
class Resiliency:
    """The policies of one `Resiliency` resource and, per component, the names of the
    (retry, timeout) policies of its inbound side (see `resources.resiliency`)."""

    name: str
    retries: dict[str, RetryPolicy]
    timeouts: dict[str, float]
    component_inbound: dict[str, tuple[str | None, str | None]]
    scopes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class InboundPolicy:
    """How deliveries of a pub/sub component to the app are retried and timed out; None:
    not at all (daprd has no built-in inbound retry, and no call timeout)."""

    retry: RetryPolicy | None = None
    timeout_seconds: float | None = None


# daprd's default inbound policy names, most specific first (pkg/resiliency templates).
_DEFAULT_RETRIES = (
    "DefaultPubsubComponentInboundRetryPolicy",
    "DefaultComponentInboundRetryPolicy",
)
_DEFAULT_TIMEOUTS = (
    "DefaultPubsubComponentInboundTimeoutPolicy",
    "DefaultComponentInboundTimeoutPolicy",
)


@dataclass
class Resources:
    components: list[Component] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    resiliencies: list[Resiliency] = field(default_factory=list)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def inbound_policy(self, pubsub: str) -> InboundPolicy:
        """daprd's lookup: the component's own target when a Resiliency names it (even one
        without policies), else the default inbound policies."""
        for resiliency in self.resiliencies:
            names = resiliency.component_inbound.get(pubsub)
            if names is not None:
                retry, timeout = names
                return InboundPolicy(
                    None if retry is None else resiliency.retries[retry],
                    None if timeout is None else resiliency.timeouts[timeout],
                )
        return InboundPolicy(
            _first(self.resiliencies, "retries", _DEFAULT_RETRIES),
            _first(self.resiliencies, "timeouts", _DEFAULT_TIMEOUTS),
        )


def _first(resiliencies: list[Resiliency], kind: str, names: tuple[str, ...]) -> Any:
    for name in names:
        for resiliency in resiliencies:
            policies = getattr(resiliency, kind)
            if name in policies:
                return policies[name]
    return None
