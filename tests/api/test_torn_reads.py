"""A read of a run that met a save halfway on daprd 1.18.2 is read again; any other
failure, and a torn read that persists, reach the caller unchanged."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from services.orchestrator.api.workflow_gateway import read_through_torn_saves

TORN = (
    "workflow 'w1': inbox key 'inbox-000000' declared in metadata (inboxLength=1) but missing "
    "from state store (transient store read failure or partial save?)"
)


class RpcFailure(grpc.RpcError, grpc.Call):
    """The shape of the error the gRPC channel raises: an `RpcError` that is a `Call`."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def failing(times: int, error: RpcFailure) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "state"

    return calls, call


def test_a_torn_read_is_read_again_until_it_is_whole() -> None:
    calls, call = failing(2, RpcFailure(grpc.StatusCode.UNKNOWN, TORN))
    assert read_through_torn_saves(call) == "state"
    assert len(calls) == 3


def test_a_torn_read_that_persists_reaches_the_caller() -> None:
    calls, call = failing(100, RpcFailure(grpc.StatusCode.UNKNOWN, TORN))
    with pytest.raises(grpc.RpcError) as raised:
        read_through_torn_saves(call)
    assert "missing from state store" in raised.value.details()
    assert len(calls) == 5


def test_any_other_failure_reaches_the_caller_at_once() -> None:
    calls, call = failing(1, RpcFailure(grpc.StatusCode.UNAVAILABLE, "connection refused"))
    with pytest.raises(grpc.RpcError):
        read_through_torn_saves(call)
    assert len(calls) == 1
