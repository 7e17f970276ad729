"""What the HTTP routes call: the servicers and the invoker the gRPC API uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sidecar.dapr_api.servicer import DaprRuntimeServicer
from sidecar.http_api.calls import Caller
from sidecar.invocation.router import Invoker
from sidecar.workflow.servicer import TaskHubServicer

DAPR = "/dapr.proto.runtime.v1.Dapr/"
TASK_HUB = "/TaskHubSidecarService/"


@dataclass
class Backends:
    app_id: str
    api_token: str | None
    runtime: DaprRuntimeServicer
    workflows: TaskHubServicer
    invoker: Invoker
    metadata: Callable[[], dict[str, Any]]
    call: Caller
