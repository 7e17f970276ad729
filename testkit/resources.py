"""Dapr resource documents (Component, Subscription, Resiliency) for a sidecar's
`--resources-path`, written as YAML files: the same documents daprd reads, so a test's
resources mean the same on either runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.contracts.names import PUBSUB


def component(
    name: str, type_: str, metadata: dict[str, str] | None = None, scopes: list[str] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": "v1",
            "metadata": [{"name": k, "value": v} for k, v in (metadata or {}).items()],
        },
    }
    if scopes is not None:
        document["scopes"] = scopes
    return document


def subscription(
    name: str,
    topic: str,
    *,
    default: str = "",
    rules: tuple[tuple[str, str], ...] = (),
    dead_letter_topic: str = "",
    pubsub: str = PUBSUB,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    if default:
        routes["default"] = default
    if rules:
        routes["rules"] = [{"match": match, "path": path} for match, path in rules]
    spec: dict[str, Any] = {"pubsubname": pubsub, "topic": topic, "routes": routes}
    if dead_letter_topic:
        spec["deadLetterTopic"] = dead_letter_topic
    document: dict[str, Any] = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": name},
        "spec": spec,
    }
    if scopes is not None:
        document["scopes"] = scopes
    return document


def resiliency(
    pubsub: str = PUBSUB,
    *,
    duration: str = "50ms",
    max_retries: int = 2,
    policy: str = "constant",
    timeout: str = "",
) -> dict[str, Any]:
    """A Resiliency whose inbound retry for `pubsub` is short, so retries finish fast;
    `timeout` adds an inbound timeout for each call to the app."""
    inbound = {"retry": "quick"}
    policies: dict[str, Any] = {
        "retries": {"quick": {"policy": policy, "duration": duration, "maxRetries": max_retries}}
    }
    if timeout:
        inbound["timeout"] = "short"
        policies["timeouts"] = {"short": timeout}
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Resiliency",
        "metadata": {"name": "fast-retries"},
        "spec": {
            "policies": policies,
            "targets": {"components": {pubsub: {"inbound": inbound}}},
        },
    }


def write_resources(folder: Path, documents: dict[str, dict[str, Any] | str]) -> Path:
    """One file per entry: a document is dumped as YAML, a string is written as is."""
    folder.mkdir(parents=True, exist_ok=True)
    for filename, document in documents.items():
        text = document if isinstance(document, str) else yaml.safe_dump(document)
        (folder / filename).write_text(text)
    return folder
