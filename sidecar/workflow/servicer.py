"""`TaskHubSidecarService` over gRPC: translates requests into engine calls, nothing more;
a request routed to another app goes to that app's sidecar (`forwarding`)."""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2, wrappers_pb2

from sidecar import tracecontext
from sidecar.errors import invalid_argument, translated
from sidecar.workflow import history as h
from sidecar.workflow.engine import WorkflowEngine
from sidecar.workflow.forwarding import routed
from sidecar.workflow.protos import pb, pb_grpc
from sidecar.workflow.records import Instance
from sidecar.workflow.store import InstanceQuery

Context = Any


def _state(instance: Instance, with_payloads: bool) -> pb.GetInstanceResponse:
    return pb.GetInstanceResponse(exists=True, workflowState=instance.to_state(with_payloads))


class TaskHubServicer(pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self, engine: WorkflowEngine) -> None:
        self.client = engine.client
        self.workers = engine.workers
        self.app_id = engine.app_id
        self.peers = engine.peers

    async def Hello(self, request: empty_pb2.Empty, context: Context) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    @routed
    @translated
    async def StartInstance(
        self, request: pb.CreateInstanceRequest, context: Context
    ) -> pb.CreateInstanceResponse:
        # As daprd: the instance runs in the caller's trace, when it is sampled.
        traceparent = tracecontext.incoming(context.invocation_metadata())
        if not request.HasField("parentTraceContext") and tracecontext.is_sampled(traceparent):
            request.parentTraceContext.traceParent = traceparent
        return pb.CreateInstanceResponse(instanceId=self.client.start_instance(request))

    @routed
    @translated
    async def GetInstance(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        # daprd (since 1.15) and durabletask-go answer an unknown id with exists=false.
        instance = self.client.find(request.instanceId)
        if instance is None:
            return pb.GetInstanceResponse(exists=False)
        return _state(instance, request.getInputsAndOutputs)

    @routed
    @translated
    async def WaitForInstanceStart(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        instance = await self.client.wait_for(request.instanceId, lambda i: i.status != h.PENDING)
        return _state(instance, request.getInputsAndOutputs)

    @routed
    @translated
    async def WaitForInstanceCompletion(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        instance = await self.client.wait_for(request.instanceId, lambda i: i.terminal)
        return _state(instance, request.getInputsAndOutputs)

    @routed
    @translated
    async def RaiseEvent(
        self, request: pb.RaiseEventRequest, context: Context
    ) -> pb.RaiseEventResponse:
        if not request.name:
            raise invalid_argument("an event name is required")
        self.client.raise_event(
            request.instanceId, request.name, h.optional_string(request, "input")
        )
        return pb.RaiseEventResponse()

    @routed
    @translated
    async def TerminateInstance(
        self, request: pb.TerminateRequest, context: Context
    ) -> pb.TerminateResponse:
        self.client.terminate(
            request.instanceId, h.optional_string(request, "output"), request.recursive
        )
        return pb.TerminateResponse()

    @routed
    @translated
    async def SuspendInstance(
        self, request: pb.SuspendRequest, context: Context
    ) -> pb.SuspendResponse:
        await self.client.suspend(request.instanceId, h.optional_string(request, "reason"))
        return pb.SuspendResponse()

    @routed
    @translated
    async def ResumeInstance(
        self, request: pb.ResumeRequest, context: Context
    ) -> pb.ResumeResponse:
        await self.client.resume(request.instanceId, h.optional_string(request, "reason"))
        return pb.ResumeResponse()

    @routed
    @translated
    async def PurgeInstances(
        self, request: pb.PurgeInstancesRequest, context: Context
    ) -> pb.PurgeInstancesResponse:
        if request.WhichOneof("request") == "purgeInstanceFilter":
            query = request.purgeInstanceFilter
            count = self.client.purge_where(
                InstanceQuery(
                    statuses=tuple(query.runtimeStatus),
                    created_from=h.to_datetime(query.createdTimeFrom)
                    if query.HasField("createdTimeFrom")
                    else None,
                    created_to=h.to_datetime(query.createdTimeTo)
                    if query.HasField("createdTimeTo")
                    else None,
                ),
                recursive=request.recursive,
            )
        else:
            count = self.client.purge(request.instanceId, request.recursive, request.force)
        return pb.PurgeInstancesResponse(
            deletedInstanceCount=count, isComplete=wrappers_pb2.BoolValue(value=True)
        )

    async def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: Context) -> Any:
        async for item in self.workers.work_items(
            list(request.capabilities), lambda: not context.done()
        ):
            yield item

    @translated
    async def CompleteActivityTask(
        self, request: pb.ActivityResponse, context: Context
    ) -> pb.CompleteTaskResponse:
        self.workers.complete_activity(request)
        return pb.CompleteTaskResponse()

    @translated
    async def CompleteOrchestratorTask(
        self, request: pb.WorkflowResponse, context: Context
    ) -> pb.CompleteTaskResponse:
        self.workers.complete_orchestration(request)
        return pb.CompleteTaskResponse()

    CompleteWorkflowTask = CompleteOrchestratorTask

    @routed
    @translated
    async def RerunWorkflowFromEvent(
        self, request: pb.RerunWorkflowFromEventRequest, context: Context
    ) -> pb.RerunWorkflowFromEventResponse:
        return pb.RerunWorkflowFromEventResponse(
            newInstanceID=self.client.rerun_from_event(request)
        )

    @translated
    async def ListInstanceIDs(
        self, request: pb.ListInstanceIDsRequest, context: Context
    ) -> pb.ListInstanceIDsResponse:
        ids, token = self.client.list_instance_ids(
            request.pageSize if request.HasField("pageSize") else None,
            request.continuationToken if request.HasField("continuationToken") else None,
        )
        return pb.ListInstanceIDsResponse(instanceIds=ids, continuationToken=token)

    @translated
    async def GetInstanceHistory(
        self, request: pb.GetInstanceHistoryRequest, context: Context
    ) -> pb.GetInstanceHistoryResponse:
        return pb.GetInstanceHistoryResponse(events=self.client.history(request.instanceId))
