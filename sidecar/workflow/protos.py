"""One import point for the durable-task protos that ship inside the installed `dapr` SDK.

The sidecar must speak exactly the wire format of the SDK it serves, so it uses the
SDK's own generated modules instead of compiling a second copy of the protos. `backend`
holds durabletask's backend messages, which sidecars exchange for cross-app workflows.
"""

from dapr.ext.workflow._durabletask.internal import (
    backend_service_pb2 as backend,
)
from dapr.ext.workflow._durabletask.internal import (
    orchestrator_service_pb2_grpc as pb_grpc,
)
from dapr.ext.workflow._durabletask.internal import protos as pb

__all__ = ["backend", "pb", "pb_grpc"]
