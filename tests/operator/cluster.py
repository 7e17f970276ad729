"""WorkflowRuns in kmock, changed the way `kubectl` changes them: over HTTP, so the operator
sees watch events.

kmock is not an API server: it neither bumps `metadata.generation` nor evaluates the CRD's
schema and CEL rules. This helper does both before each write (`crd_rules`), so a test can
only make changes a real cluster would accept, and the operator sees generations move.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import kmock

from tests.operator import crd_rules
from workflowrun_operator.crd import GROUP, KIND, PLURAL, VERSION

RESOURCE = f"{GROUP}/{VERSION}/{PLURAL}"
API_VERSION = f"{GROUP}/{VERSION}"
NAMESPACE = "team-a"


class WorkflowRunsInKmock:
    def __init__(self, emulator: kmock.KubernetesEmulator) -> None:
        self.kmock = emulator
        self.http = httpx.AsyncClient(base_url=str(emulator.url), timeout=10)
        self._uids = itertools.count(1)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, namespace: str, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
        return f"{base}/{name}" if name else base

    async def create(
        self, name: str, spec: Mapping[str, Any], *, namespace: str = NAMESPACE
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{name}-{next(self._uids)}",
                "resourceVersion": "1",
                "generation": 1,
                "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "spec": dict(spec),
        }
        errors = crd_rules.admission_errors(body)
        assert not errors, f"the API server would refuse {name}: {errors}"
        response = await self.http.post(self._path(namespace), json=body)
        response.raise_for_status()
        return body

    async def patch_spec(
        self, name: str, changes: Mapping[str, Any], *, namespace: str = NAMESPACE
    ) -> None:
        """A merge patch of `.spec` (lists are replaced whole, as in a JSON merge patch)."""
        old = self.get(name, namespace=namespace)
        assert old is not None, f"{namespace}/{name} does not exist"
        new = copy.deepcopy(old)
        new["spec"] = {**new["spec"], **changes}
        new["spec"] = {key: value for key, value in new["spec"].items() if value is not None}
        errors = crd_rules.admission_errors(new, old)
        assert not errors, f"the API server would refuse this change of {name}: {errors}"
        generation = int(old["metadata"].get("generation", 1)) + 1
        response = await self.http.patch(
            self._path(namespace, name),
            json={"metadata": {"generation": generation}, "spec": dict(changes)},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()

    async def delete(self, name: str, *, namespace: str = NAMESPACE) -> None:
        response = await self.http.delete(self._path(namespace, name))
        response.raise_for_status()

    def get(self, name: str, *, namespace: str = NAMESPACE) -> dict[str, Any] | None:
        try:
            obj = self.kmock.objects[RESOURCE, namespace, name]
        except KeyError:
            return None
        return None if obj.deleted else copy.deepcopy(dict(obj.raw))

    def status(self, name: str, *, namespace: str = NAMESPACE) -> dict[str, Any]:
        obj = self.get(name, namespace=namespace)
        return dict((obj or {}).get("status") or {})

    def condition(
        self, name: str, condition_type: str, *, namespace: str = NAMESPACE
    ) -> dict[str, Any]:
        for condition in self.status(name, namespace=namespace).get("conditions") or ():
            if condition.get("type") == condition_type:
                return dict(condition)
        return {}

    def events_posted(self) -> list[dict[str, Any]]:
        """The Kubernetes Events the operator created (kopf's and ours)."""
        return [
            request.data
            for request in self.kmock[kmock.resource("v1/events")]
            if request.method == "POST" and isinstance(request.data, dict)
        ]


async def eventually(
    probe: Callable[[], Any],
    *,
    within: float = 30.0,
    interval: float = 0.1,
    what: str | Callable[[], str] = "",
) -> Any:
    """Polls `probe` (plain or async) until it returns something truthy; fails after `within`
    seconds."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {within}s waiting for {described or probe}")
        await asyncio.sleep(interval)
