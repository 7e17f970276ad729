"""Calls a gRPC servicer method in process, for an HTTP route that does what a gRPC call does.

The servicer sees a context like gRPC's: the HTTP request's trace headers as invocation
metadata, and `abort` raising `Refused` with the code, message and daprd reason
(`ErrorInfo`) the gRPC caller would get. The call is counted in the sidecar's metrics
under the gRPC method's name, as daprd counts an HTTP call like the gRPC one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2

from sidecar.errors import SidecarError
from sidecar.metrics import SidecarMetrics

T = TypeVar("T")
_DETAILS = "grpc-status-details-bin"


class Refused(Exception):
    """The servicer aborted the call: its gRPC code, message and daprd reason."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


class InProcessContext:
    """The part of `grpc.aio.ServicerContext` the servicers use."""

    def __init__(self, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self._metadata = tuple(metadata)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()
    ) -> NoReturn:
        raise Refused(code, details, _reason(trailing_metadata))

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        raise Refused(status.code, status.details, _reason(status.trailing_metadata))

    def time_remaining(self) -> float | None:
        return None

    def done(self) -> bool:
        return False

    def set_trailing_metadata(self, metadata: Any) -> None:
        """Trailers have no HTTP counterpart here."""

    async def send_initial_metadata(self, metadata: Any) -> None:
        """Headers have no HTTP counterpart here."""


class Caller:
    """Runs servicer methods in process, counting them as daprd counts API calls."""

    def __init__(self, metrics: SidecarMetrics | None) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        method: Callable[[Any, Any], Awaitable[T]],
        request: Any,
        full_name: str,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> T:
        """`method(request, context)`; a `SidecarError` or an abort raises `Refused`."""
        record = self._metrics.recorder(full_name) if self._metrics else None
        started = time.perf_counter()
        ok = False
        try:
            result = await method(request, InProcessContext(metadata))
            ok = True
            return result
        except SidecarError as error:
            raise Refused(error.code, error.message, error.reason) from None
        finally:
            if record is not None:
                record(request, ok, (time.perf_counter() - started) * 1000)


def _reason(trailing_metadata: Any) -> str:
    """The `ErrorInfo` reason in a status's details, if any."""
    for key, value in trailing_metadata or ():
        if key != _DETAILS or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return str(info.reason)
    return ""
