"""Client operations routed to another app (Dapr 1.16's cross-app workflows): a request whose
`router.targetAppID` names another app (`DaprWorkflowClient.schedule_new_workflow(...,
app_id=...)`, `get_workflow_state(..., app_id=...)`, ...) is carried out by that app's
sidecar, found through name resolution (`peers`), and its answer or error is passed back
unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import grpc

from sidecar.errors import SidecarError, abort
from sidecar.workflow.peers import Peers, PeerUnavailable
from sidecar.workflow.protos import pb_grpc

T = TypeVar("T")


def routed(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Sends a servicer method's request to the sidecar of the app its router names, when
    that is another app; the servicer has `app_id` and `peers`."""

    @wraps(method)
    async def wrapper(self: Any, request: Any, context: Any) -> T:
        target = request.router.targetAppID if request.HasField("router") else ""
        if not target or target == self.app_id:
            return await method(self, request, context)
        result: T = await forward(self.peers, target, method.__name__, request, context)
        return result

    return wrapper


async def forward(
    peers: Peers | None,
    app_id: str,
    name: str,
    request: Any,
    context: grpc.aio.ServicerContext[Any, Any],
) -> Any:
    try:
        if peers is None:
            raise PeerUnavailable("this sidecar has no name resolution")
        stub = pb_grpc.TaskHubSidecarServiceStub(peers.channel(app_id))
    except PeerUnavailable as error:
        await abort(context, SidecarError(grpc.StatusCode.UNAVAILABLE, "APP_NOT_FOUND", str(error)))
    try:
        return await getattr(stub, name)(request, timeout=context.time_remaining())
    except grpc.aio.AioRpcError as error:
        await context.abort(error.code(), error.details() or "", error.trailing_metadata())
