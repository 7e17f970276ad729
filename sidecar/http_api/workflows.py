"""`/v1.0-beta1/workflows/<component>/...` (also `v1.0-alpha1` and `v1.0`): start, get,
raise event, pause, resume, terminate and purge (daprd's `pkg/api/http/workflow.go` and
`pkg/api/universal/workflow.go`).

Each is the task hub call `DaprWorkflowClient` makes, on the same engine. The component
name is not checked, as daprd 1.18 does not; operations answer 202, a get 200 with the
instance's properties (input, output, custom status, failure).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from dapr.proto.runtime.v1 import workflow_pb2
from google.protobuf import json_format, wrappers_pb2

from sidecar.http_api.backends import TASK_HUB, Backends
from sidecar.http_api.calls import Refused
from sidecar.http_api.responses import error, json_body, refused, trace_metadata
from sidecar.workflow.protos import pb

VERSIONS = ("v1.0-alpha1", "v1.0-beta1", "v1.0")
_MAX_ID = 64
# daprd's `statusMap` (wfengine/client.go): the names of the task hub's statuses.
_STATUS = dict(
    enumerate(
        (
            "RUNNING",
            "COMPLETED",
            "CONTINUED_AS_NEW",
            "FAILED",
            "CANCELED",
            "TERMINATED",
            "PENDING",
            "SUSPENDED",
        )
    )
)
_NOT_FOUND = "ERR_INSTANCE_ID_NOT_FOUND"


def routes(api: Backends) -> list[web.RouteDef]:
    async def call(request: web.Request, name: str, message: Any) -> Any:
        return await api.call(
            getattr(api.workflows, name), message, TASK_HUB + name, trace_metadata(request)
        )

    async def start(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        instance_id = request.query.get("instanceID") or str(uuid.uuid4())
        invalid = _invalid_id(instance_id)
        if invalid is not None:
            return invalid
        body = await request.read()
        message = pb.CreateInstanceRequest(
            instanceId=instance_id, name=name, input=wrappers_pb2.StringValue(value=body.decode())
        )
        try:
            created = await call(request, "StartInstance", message)
        except Refused as refusal:
            return error(500, "ERR_START_WORKFLOW", f"error starting workflow '{name}': {refusal}")
        return json_body({"instanceID": created.instanceId}, 202)

    async def get(request: web.Request) -> web.Response:
        instance_id = request.match_info["instance"]
        message = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True)
        try:
            found = await call(request, "GetInstance", message)
        except Refused as refusal:
            return error(
                500,
                "ERR_GET_WORKFLOW",
                f"error while getting workflow info on instance '{instance_id}': {refusal}",
            )
        if not found.exists:
            return _missing(instance_id)
        return json_body(json_format.MessageToDict(_response(found.workflowState)))

    def operation(name: str, build: Any, code: str, missing: bool = False) -> Any:
        """A 202 operation; `missing`: daprd answers an unknown instance with 404."""

        async def handle(request: web.Request) -> web.Response:
            instance_id = request.match_info["instance"]
            try:
                await call(request, name, await build(request, instance_id))
            except Refused as refusal:
                if missing and refusal.reason == "WORKFLOW_NOT_FOUND":
                    return _missing(instance_id)
                return refused(refusal, code, 500)
            return json_body({}, 202)

        return handle

    async def raise_event(request: web.Request, instance_id: str) -> Any:
        return pb.RaiseEventRequest(
            instanceId=instance_id,
            name=request.match_info["event"],
            input=wrappers_pb2.StringValue(value=(await request.read()).decode()),
        )

    async def terminate(request: web.Request, instance_id: str) -> Any:
        return pb.TerminateRequest(instanceId=instance_id, recursive=True)

    async def pause(request: web.Request, instance_id: str) -> Any:
        return pb.SuspendRequest(instanceId=instance_id)

    async def resume(request: web.Request, instance_id: str) -> Any:
        return pb.ResumeRequest(instanceId=instance_id)

    async def purge(request: web.Request, instance_id: str) -> Any:
        return pb.PurgeInstancesRequest(instanceId=instance_id, recursive=True)

    handlers = {
        "raiseEvent/{event}": operation("RaiseEvent", raise_event, "ERR_RAISE_EVENT_WORKFLOW"),
        "terminate": operation(
            "TerminateInstance", terminate, "ERR_TERMINATE_WORKFLOW", missing=True
        ),
        "pause": operation("SuspendInstance", pause, "ERR_PAUSE_WORKFLOW"),
        "resume": operation("ResumeInstance", resume, "ERR_RESUME_WORKFLOW"),
        "purge": operation("PurgeInstances", purge, "ERR_PURGE_WORKFLOW", missing=True),
    }
    found: list[web.RouteDef] = []
    for version in VERSIONS:
        base = f"/{version}/workflows/{{component}}"
        found.append(web.post(base + "/{name}/start", start))
        found.append(web.get(base + "/{instance}", get))
        found += [web.post(f"{base}/{{instance}}/{path}", h) for path, h in handlers.items()]
    return found


def _invalid_id(instance_id: str) -> web.Response | None:
    """daprd's checks of a new instance id: at most 64 letters, digits, `_` or `-`."""
    if len(instance_id) > _MAX_ID:
        return error(
            400,
            "ERR_INSTANCE_ID_TOO_LONG",
            f"workflow instance ID exceeds the max length of {_MAX_ID} characters",
        )
    if not all(c.isalnum() or c in "_-" for c in instance_id):
        return error(
            400,
            "ERR_INSTANCE_ID_INVALID",
            f"workflow instance ID '{instance_id}' is invalid: only alphanumeric and "
            "underscore characters are allowed",
        )
    return None


def _missing(instance_id: str) -> web.Response:
    return error(
        404, _NOT_FOUND, f"unable to find workflow with the provided instance ID: {instance_id}"
    )


def _response(state: Any) -> workflow_pb2.GetWorkflowResponse:
    """daprd's `GetWorkflowResponse` of a task hub instance state."""
    properties = {}
    if state.HasField("customStatus"):
        properties["dapr.workflow.custom_status"] = state.customStatus.value
    if state.HasField("input"):
        properties["dapr.workflow.input"] = state.input.value
    if state.HasField("output"):
        properties["dapr.workflow.output"] = state.output.value
    if state.HasField("failureDetails"):
        failure = state.failureDetails
        properties["dapr.workflow.failure.error_type"] = failure.errorType
        properties["dapr.workflow.failure.error_message"] = failure.errorMessage
        if failure.HasField("stackTrace"):
            properties["dapr.workflow.failure.stack_trace"] = failure.stackTrace.value
    response = workflow_pb2.GetWorkflowResponse(
        instance_id=state.instanceId,
        workflow_name=state.name,
        runtime_status=_STATUS.get(state.workflowStatus, "UNKNOWN"),
        properties=properties,
    )
    response.created_at.CopyFrom(state.createdTimestamp)
    response.last_updated_at.CopyFrom(state.lastUpdatedTimestamp)
    return response
