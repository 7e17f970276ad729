"""Reads a folder of Dapr resource YAML the way daprd's `--resources-path` does.

Supports `Component` (dapr.io/v1alpha1), `Subscription` (v2alpha1, and v1alpha1's single
`route`) and `Resiliency` (v1alpha1); a `Configuration` is not applied (a warning says so:
daprd reads one only from `--config`). Resources
scoped to other app ids are skipped. Anything malformed or unsupported stops start-up
with a `ResourceError` naming the file and the field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cel
import yaml

from sidecar.resources import metadata as component_metadata
from sidecar.resources import resiliency
from sidecar.resources.definitions import Component, Resources, Rule, Subscription
from sidecar.resources.fields import (
    ResourceError,
    mapping,
    parse_duration,
    required_str,
    str_list,
)

log = logging.getLogger("sidecar.resources")

BULK_SUBSCRIBE_REFUSED = (
    "bulk subscribe is not supported by the embedded sidecar (it delivers each message by "
    "its own OnTopicEvent): turn it off, or run the app under daprd"
)

SUPPORTED_COMPONENT_TYPES = frozenset(component_metadata.KNOWN)

__all__ = ["SUPPORTED_COMPONENT_TYPES", "ResourceError", "load_resources", "parse_duration"]


def load_resources(paths: Iterable[Path], app_id: str) -> Resources:
    resources = Resources()
    names: dict[tuple[str, str], str] = {}
    for source, document in _documents(paths):
        kind = required_str(document, "kind", source)
        name = required_str(document.get("metadata") or {}, "name", source, "metadata.name")
        scopes = tuple(str_list(document.get("scopes"), source, "scopes"))
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
            resources.resiliencies.append(resiliency.load(name, spec, scopes, source))
        elif kind == "Configuration":
            # daprd does not read a Configuration from its resources path either (only
            # from --config): say so rather than let the file look applied.
            log.warning(
                "Configuration in a resources path is not applied: pass it with --config",
                extra={"resource": source, "configuration": name},
            )
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
    component_type = required_str(spec, "type", source, "spec.type")
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
    component_metadata.check(component_type, metadata, source)
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
    pubsub = required_str(spec, "pubsubname", source, "spec.pubsubname")
    topic = required_str(spec, "topic", source, "spec.topic")
    rules: list[Rule] = []
    default_route = ""
    if api_version == "dapr.io/v1alpha1":
        default_route = required_str(spec, "route", source, "spec.route")
    else:
        routes = spec.get("routes")
        if not isinstance(routes, dict):
            raise ResourceError(source, "spec.routes", "missing or not a mapping")
        default_route = str(routes.get("default", ""))
        for index, rule in enumerate(routes.get("rules") or []):
            field = f"spec.routes.rules[{index}]"
            if not isinstance(rule, dict):
                raise ResourceError(source, field, "not a mapping")
            match = required_str(rule, "match", source, f"{field}.match")
            try:
                cel.compile(match)
            except ValueError as error:
                problem = str(error).splitlines()[0]
                raise ResourceError(
                    source, f"{field}.match", f"invalid CEL expression {match!r}: {problem}"
                ) from None
            rules.append(
                Rule(match=match, path=required_str(rule, "path", source, f"{field}.path"))
            )
        if not rules and not default_route:
            raise ResourceError(source, "spec.routes", "needs a default route or rules")
    metadata = spec.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ResourceError(source, "spec.metadata", "not a mapping")
    if mapping(spec.get("bulkSubscribe"), source, "spec.bulkSubscribe").get("enabled"):
        raise ResourceError(source, "spec.bulkSubscribe", BULK_SUBSCRIBE_REFUSED)
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
