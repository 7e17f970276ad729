"""`Resiliency` resources: the part the embedded sidecar applies, and a refusal for the rest.

Applied, as daprd applies them: retry and timeout policies on the inbound side of pub/sub
components (`spec.targets.components.<pubsub>.inbound`), and for a pubsub with no target of
its own the default policies daprd looks up for that side (`DefaultPubsubComponentInbound
RetryPolicy`, then `DefaultComponentInboundRetryPolicy`; the same for timeouts). Everything
else would change what daprd does and is not applied here, so it stops start-up with the
field named: circuit breakers, targets for apps, actors and a component's outbound calls,
retry conditions (`matching`), default policies of other targets and overrides of daprd's
built-in policies, and any field daprd does not know.
"""

from __future__ import annotations

from typing import Any

from sidecar.resources.definitions import Resiliency, RetryPolicy
from sidecar.resources.fields import ResourceError, integer, mapping, parse_duration

# daprd's default policy names for a pub/sub component's inbound side, most specific first
# (pkg/resiliency: Default<Type>Component<Direction><Kind>Policy, then broader levels).
INBOUND_DEFAULT_LEVELS = ("PubsubComponentInbound", "ComponentInbound")
_NOT_APPLIED = "is not applied by the embedded sidecar"
_RETRY_FIELDS = frozenset({"policy", "duration", "maxInterval", "maxRetries", "matching"})


def load(name: str, spec: dict[str, Any], scopes: tuple[str, ...], source: str) -> Resiliency:
    _known(spec, {"policies", "targets"}, source, "spec")
    policies = mapping(spec.get("policies"), source, "spec.policies")
    _known(policies, {"retries", "timeouts", "circuitBreakers"}, source, "spec.policies")
    if policies.get("circuitBreakers"):
        raise ResourceError(
            source, "spec.policies.circuitBreakers", f"circuit breakers: {_NOT_APPLIED}"
        )
    retries = {
        policy_name: _retry(policy_name, retry, source)
        for policy_name, retry in mapping(
            policies.get("retries"), source, "spec.policies.retries"
        ).items()
    }
    timeouts = {
        timeout_name: parse_duration(value, source, f"spec.policies.timeouts.{timeout_name}")
        for timeout_name, value in mapping(
            policies.get("timeouts"), source, "spec.policies.timeouts"
        ).items()
    }
    for kind, names in (("retries", retries), ("timeouts", timeouts)):
        for policy_name in names:
            _check_policy_name(policy_name, source, f"spec.policies.{kind}.{policy_name}")
    return Resiliency(
        name=name,
        retries=retries,
        timeouts=timeouts,
        component_inbound=_targets(spec, retries, timeouts, source),
        scopes=scopes,
        source=source,
    )


def _retry(policy_name: str, retry: Any, source: str) -> RetryPolicy:
    field = f"spec.policies.retries.{policy_name}"
    retry = mapping(retry, source, field)
    _known(retry, _RETRY_FIELDS, source, field)
    if "matching" in retry:
        raise ResourceError(
            source, f"{field}.matching", f"retry conditions (matching): {_NOT_APPLIED}"
        )
    policy = str(retry.get("policy", "constant"))
    if policy not in {"constant", "exponential"}:
        raise ResourceError(source, f"{field}.policy", f"unknown policy '{policy}'")
    return RetryPolicy(
        policy=policy,
        duration_seconds=parse_duration(
            retry.get("duration", "5s" if policy == "constant" else "500ms"),
            source,
            f"{field}.duration",
        ),
        max_interval_seconds=parse_duration(
            retry.get("maxInterval", "60s"), source, f"{field}.maxInterval"
        ),
        max_retries=integer(retry.get("maxRetries", -1), source, f"{field}.maxRetries"),
    )


def _check_policy_name(policy_name: str, source: str, field: str) -> None:
    """daprd gives some policy names a meaning of their own: the inbound defaults are
    applied here; other defaults and built-in overrides reach what is not applied."""
    if policy_name.startswith("DaprBuiltIn"):
        raise ResourceError(
            source, field, f"overriding daprd's built-in policy '{policy_name}' {_NOT_APPLIED}"
        )
    if policy_name.startswith("Default") and policy_name.endswith("Policy"):
        level = policy_name.removeprefix("Default").removesuffix("Policy")
        for kind in ("Retry", "Timeout", "CircuitBreaker"):
            level = level.removesuffix(kind)
        if level not in INBOUND_DEFAULT_LEVELS:
            raise ResourceError(
                source,
                field,
                f"the default policy '{policy_name}' {_NOT_APPLIED}: of the default policies "
                "only DefaultPubsubComponentInbound* and DefaultComponentInbound* are",
            )


def _targets(
    spec: dict[str, Any], retries: dict[str, RetryPolicy], timeouts: dict[str, float], source: str
) -> dict[str, tuple[str | None, str | None]]:
    """The inbound (retry, timeout) policy names of each component target."""
    targets = mapping(spec.get("targets"), source, "spec.targets")
    _known(targets, {"apps", "actors", "components"}, source, "spec.targets")
    for kind in ("apps", "actors"):
        if targets.get(kind):
            raise ResourceError(
                source, f"spec.targets.{kind}", f"policies for {kind}: {_NOT_APPLIED}"
            )
    inbound_policies: dict[str, tuple[str | None, str | None]] = {}
    components = mapping(targets.get("components"), source, "spec.targets.components")
    for component, target in components.items():
        field = f"spec.targets.components.{component}"
        target = mapping(target, source, field)
        _known(target, {"inbound", "outbound"}, source, field)
        if target.get("outbound"):
            raise ResourceError(
                source, f"{field}.outbound", f"policies for outbound calls: {_NOT_APPLIED}"
            )
        inbound = mapping(target.get("inbound"), source, f"{field}.inbound")
        _known(inbound, {"retry", "timeout", "circuitBreaker"}, source, f"{field}.inbound")
        if "circuitBreaker" in inbound:
            raise ResourceError(
                source, f"{field}.inbound.circuitBreaker", f"circuit breakers: {_NOT_APPLIED}"
            )
        retry, timeout = inbound.get("retry"), inbound.get("timeout")
        if retry is not None and retry not in retries:
            raise ResourceError(
                source, f"{field}.inbound.retry", f"no retry policy named '{retry}'"
            )
        if timeout is not None and timeout not in timeouts:
            raise ResourceError(source, f"{field}.inbound.timeout", f"no timeout named '{timeout}'")
        inbound_policies[component] = (retry, timeout)
    return inbound_policies


def _known(
    holder: dict[str, Any], known: set[str] | frozenset[str], source: str, field: str
) -> None:
    """Refuses a field daprd does not know either (a typo would be ignored silently)."""
    for key in holder:
        if key not in known:
            raise ResourceError(
                source, f"{field}.{key}", f"unknown field (known: {', '.join(sorted(known))})"
            )
