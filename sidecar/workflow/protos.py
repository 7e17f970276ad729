"""One import point for the durable-task protos that ship inside the installed `dapr` SDK.

The sidecar must speak exactly the wire format of the SDK it serves, so it uses the
SDK's own generated modules instead of compiling a second copy of the protos.
"""

from dapr.ext.workflow._durabletask.internal import (
    orchestrator_service_pb2_grpc as pb_grpc,
)
from dapr.ext.workflow._durabletask.internal import protos as pb

__all__ = ["pb", "pb_grpc"]
