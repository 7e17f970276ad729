"""Reads a folder of Dapr resource YAML the way daprd's `--resources-path` does.

Supports `Component` (dapr.io/v1alpha1), `Subscription` (v2alpha1, and v1alpha1's single
`route`), `Resiliency` (v1alpha1) and `Configuration` (accepted, not applied). Resources
scoped to other app ids are skipped. Anything malformed or unsupported stops start-up
with a `ResourceError` naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cel
import yaml

from foundation.durations import go_duration_seconds
from sidecar.resources.definitions import (
    Component,
    Resiliency,
    Resources,
    RetryPolicy,
    Rule,
    Subscription,
)

SUPPORTED_COMPONENT_TYPES = frozenset(
    {"state.sqlite", "state.in-memory", "pubsub.in-memory", "pubsub.sqlite"}
)


class ResourceError(ValueError):
    """A resource file the sidecar cannot honour; the message names file and field."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}")
        self.source = source
        self.field = field


def parse_duration(text: str, source: str, field: str) -> float:
    """A Go duration as Dapr resources write them (`500ms`, `5s`, `1m30s`), in seconds;
    negative ones are refused (no policy waits a negative time)."""
    try:
        seconds = go_duration_seconds(str(text))
    except ValueError as error:
        raise ResourceError(source, field, str(error)) from None
    if seconds < 0:
        raise ResourceError(source, field, f"negative duration '{text}'")
    return seconds


def load_resources(paths: Iterable[Path], app_id: str) -> Resources:
    resources = Resources()
    names: dict[tuple[str, str], str] = {}
    for source, document in _documents(paths):
        kind = _required_str(document, "kind", source)
        name = _required_str(document.get("metadata") or {}, "name", source, "metadata.name")
        scopes = tuple(_str_list(document.get("scopes"), source, "scopes"))
        if scopes and app_id not in scopes:
            continue
        previous = names.get((kind, name))
        if previous is not None:
            raise ResourceError(
                source, "metadata.name", f"{kind} '{name}' is already defined in {previous}"
            )
        names[(kind, name)] = source
        spec = document.get("spec")
        if not isinstance(spec, dict):
            raise ResourceError(source, "spec", "missing or not a mapping")
        if kind == "Component":
            resources.components.append(_component(name, spec, scopes, source))
        elif kind == "Subscription":
            resources.subscriptions.append(
                _subscription(name, document.get("apiVersion", ""), spec, scopes, source)
            )
        elif kind == "Resiliency":
            resources.resiliencies.append(_resiliency(name, spec, scopes, source))
        elif kind == "Configuration":
            continue
        else:
            raise ResourceError(
                source,
                "kind",
                f"unsupported kind '{kind}' (Component, Subscription, Resiliency, Configuration)",
            )
    return resources


def _documents(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    for folder in paths:
        if not folder.is_dir():
            raise ResourceError(str(folder), "--resources-path", "not a directory")
        for path in sorted(folder.iterdir()):
            if path.suffix not in {".yaml", ".yml"}:
                continue
            try:
                documents = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as error:
                raise ResourceError(str(path), "yaml", str(error).replace("\n", " ")) from None
            for number, document in enumerate(documents):
                if document is None:
                    continue
                source = str(path) if len(documents) == 1 else f"{path}[{number}]"
                if not isinstance(document, dict):
                    raise ResourceError(source, "document", "not a mapping")
                if not str(document.get("apiVersion", "")).startswith("dapr.io/"):
                    raise ResourceError(
                        source, "apiVersion", f"'{document.get('apiVersion')}' is not dapr.io/*"
                    )
                yield source, document


def _component(name: str, spec: dict[str, Any], scopes: tuple[str, ...], source: str) -> Component:
    component_type = _required_str(spec, "type", source, "spec.type")
    if component_type not in SUPPORTED_COMPONENT_TYPES:
        raise ResourceError(
            source,
            "spec.type",
            f"unsupported component type '{component_type}' "
            f"(supported: {', '.join(sorted(SUPPORTED_COMPONENT_TYPES))})",
        )
    metadata: dict[str, str] = {}
    for index, item in enumerate(spec.get("metadata") or []):
        field = f"spec.metadata[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ResourceError(source, field, "each item needs a name")
        if "secretKeyRef" in item:
            raise ResourceError(
                source,
                f"{field}.secretKeyRef",
                "secret references are not supported by the embedded sidecar; use value",
            )
        if "value" not in item:
            raise ResourceError(source, f"{field}.value", f"no value for '{item['name']}'")
        value = item["value"]
        metadata[item["name"]] = str(value).lower() if isinstance(value, bool) else str(value)
    if component_type.startswith("pubsub.") and "retentionPeriod" in metadata:
        parse_duration(metadata["retentionPeriod"], source, "spec.metadata.retentionPeriod")
    return Component(
        name=name,
        type=component_type,
        version=str(spec.get("version", "v1")),
        metadata=metadata,
        scopes=scopes,
        source=source,
    )


def _subscription(
    name: str, api_version: str, spec: dict[str, Any], scopes: tuple[str, ...], source: str
) -> Subscription:
    pubsub = _required_str(spec, "pubsubname", source, "spec.pubsubname")
    topic = _required_str(spec, "topic", source, "spec.topic")
    rules: list[Rule] = []
    default_route = ""
    if api_version == "dapr.io/v1alpha1":
        default_route = _required_str(spec, "route", source, "spec.route")
    else:
        routes = spec.get("routes")
        if not isinstance(routes, dict):
            raise ResourceError(source, "spec.routes", "missing or not a mapping")
        default_route = str(routes.get("default", ""))
        for index, rule in enumerate(routes.get("rules") or []):
            field = f"spec.routes.rules[{index}]"
            if not isinstance(rule, dict):
                raise ResourceError(source, field, "not a mapping")
            match = _required_str(rule, "match", source, f"{field}.match")
            try:
                cel.compile(match)
            except ValueError as error:
                problem = str(error).splitlines()[0]
                raise ResourceError(
                    source, f"{field}.match", f"invalid CEL expression {match!r}: {problem}"
                ) from None
            rules.append(
                Rule(match=match, path=_required_str(rule, "path", source, f"{field}.path"))
            )
        if not rules and not default_route:
            raise ResourceError(source, "spec.routes", "needs a default route or rules")
    metadata = spec.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ResourceError(source, "spec.metadata", "not a mapping")
    return Subscription(
        name=name,
        pubsub=pubsub,
        topic=topic,
        rules=tuple(rules),
        default_route=default_route,
        dead_letter_topic=str(spec.get("deadLetterTopic", "")),
        metadata={str(k): str(v) for k, v in metadata.items()},
        scopes=scopes,
        source=source,
    )


def _resiliency(
    name: str, spec: dict[str, Any], scopes: tuple[str, ...], source: str
) -> Resiliency:
    policies = _mapping(spec.get("policies"), source, "spec.policies")
    retries: dict[str, RetryPolicy] = {}
    retry_specs = _mapping(policies.get("retries"), source, "spec.policies.retries")
    for retry_name, retry in retry_specs.items():
        field = f"spec.policies.retries.{retry_name}"
        if not isinstance(retry, dict):
            raise ResourceError(source, field, "not a mapping")
        policy = str(retry.get("policy", "constant"))
        if policy not in {"constant", "exponential"}:
            raise ResourceError(source, f"{field}.policy", f"unknown policy '{policy}'")
        retries[retry_name] = RetryPolicy(
            policy=policy,
            duration_seconds=parse_duration(
                retry.get("duration", "5s" if policy == "constant" else "500ms"),
                source,
                f"{field}.duration",
            ),
            max_interval_seconds=parse_duration(
                retry.get("maxInterval", "60s"), source, f"{field}.maxInterval"
            ),
            max_retries=_integer(retry.get("maxRetries", -1), source, f"{field}.maxRetries"),
        )
    timeouts = {
        timeout_name: parse_duration(value, source, f"spec.policies.timeouts.{timeout_name}")
        for timeout_name, value in _mapping(
            policies.get("timeouts"), source, "spec.policies.timeouts"
        ).items()
    }
    inbound_retry: dict[str, str] = {}
    inbound_timeout: dict[str, str] = {}
    targets = _mapping(spec.get("targets"), source, "spec.targets")
    components = _mapping(targets.get("components"), source, "spec.targets.components")
    for component_name, target in components.items():
        field = f"spec.targets.components.{component_name}"
        inbound = _mapping(
            _mapping(target, source, field).get("inbound"), source, f"{field}.inbound"
        )
        retry_ref = inbound.get("retry")
        if retry_ref is not None:
            if retry_ref not in retries:
                raise ResourceError(
                    source,
                    f"spec.targets.components.{component_name}.inbound.retry",
                    f"no retry policy named '{retry_ref}'",
                )
            inbound_retry[component_name] = retry_ref
        timeout_ref = inbound.get("timeout")
        if timeout_ref is not None:
            if timeout_ref not in timeouts:
                raise ResourceError(
                    source,
                    f"spec.targets.components.{component_name}.inbound.timeout",
                    f"no timeout named '{timeout_ref}'",
                )
            inbound_timeout[component_name] = timeout_ref
    return Resiliency(
        name=name,
        retries=retries,
        timeouts=timeouts,
        component_inbound_retry=inbound_retry,
        component_inbound_timeout=inbound_timeout,
        scopes=scopes,
        source=source,
    )


def _required_str(holder: Any, key: str, source: str, field: str | None = None) -> str:
    value = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(value, str) or not value:
        raise ResourceError(source, field or key, "required, and must be a non-empty string")
    return value


def _mapping(value: Any, source: str, field: str) -> dict[str, Any]:
    """An optional mapping: absent or empty is `{}`, anything else but a mapping an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ResourceError(source, field, "must be a mapping")
    return value


def _integer(value: Any, source: str, field: str) -> int:
    if isinstance(value, bool):
        raise ResourceError(source, field, f"must be an integer, got '{value}'")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ResourceError(source, field, f"must be an integer, got '{value}'") from None


def _str_list(value: Any, source: str, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ResourceError(source, field, "must be a list of strings")
    return value
