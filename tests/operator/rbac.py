"""What `operator/rbac.yaml` grants, and what the operator actually asked kmock for, both as
`(apiGroup, resource[/subresource], verb)` triples that RBAC rules speak in."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import kmock
import yaml

RBAC_PATH = Path(__file__).resolve().parents[2] / "operator" / "rbac.yaml"

Grant = tuple[str, str, str]


@cache
def granted() -> frozenset[Grant]:
    grants: set[Grant] = set()
    for document in yaml.safe_load_all(RBAC_PATH.read_text()):
        if document and document.get("kind") in ("ClusterRole", "Role"):
            for rule in document.get("rules") or ():
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        grants.update((group, resource, verb) for verb in rule["verbs"])
    return frozenset(grants)


def _verb(request: kmock.Request) -> str:
    method = str(request.method.value if hasattr(request.method, "value") else request.method)
    method = method.upper()
    if method == "GET":
        if request.params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if request.name else "list"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]


def verbs_used(emulator: kmock.KubernetesEmulator) -> frozenset[Grant]:
    """The resource requests kopf (not the test) made; discovery URLs need no RBAC rule."""
    used: set[Grant] = set()
    for request in emulator:
        if not request.headers.get("User-Agent", "").startswith("kopf/"):
            continue
        if request.resource is None or not request.resource.plural:
            continue  # discovery (/api, /apis/<group>/<version>): no RBAC rule needed
        group = request.resource.group or ""
        resource = request.resource.plural or ""
        if request.subresource:
            resource = f"{resource}/{request.subresource}"
        used.add((group, resource, _verb(request)))
    return frozenset(used)
