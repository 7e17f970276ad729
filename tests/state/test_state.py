"""The state API through the SDK clients: values, ETags, first-write, transactions, key
prefixes and TTLs, against `state.sqlite` (and `state.in-memory` for the basics)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import grpc
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateItem, StateOptions

from testkit.polling import wait_until
from testkit.resources import component
from testkit.sidecar import SidecarProcess
from tests.pubsub.harness import STATE, Cluster

FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)


@pytest.fixture(params=["state.sqlite", "state.in-memory"])
def any_store(request: pytest.FixtureRequest, cluster: Cluster) -> DaprClient:
    cluster.resources({"state.yaml": component(STATE, request.param)})
    return cluster.client(cluster.sidecar("cart"))


@pytest.fixture
def sqlite_store(cluster: Cluster) -> SidecarProcess:
    cluster.resources({"state.yaml": component(STATE, "state.sqlite")})
    return cluster.sidecar("cart")


@pytest.fixture
def client(cluster: Cluster, sqlite_store: SidecarProcess) -> DaprClient:
    return cluster.client(sqlite_store)


def _aborted(call: object) -> DaprGrpcError:
    with pytest.raises(DaprGrpcError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code() == grpc.StatusCode.ABORTED, caught.value
    return caught.value


def test_saved_value_is_read_back_with_an_etag(any_store: DaprClient) -> None:
    any_store.save_state(STATE, "cart-1", b'{"items": 3}')

    state = any_store.get_state(STATE, "cart-1")

    assert state.data == b'{"items": 3}'
    assert state.etag
    missing = any_store.get_state(STATE, "nothing-here")
    assert (missing.data, missing.etag) == (b"", "")
    any_store.save_state(STATE, "cart-1", "overwritten")
    again = any_store.get_state(STATE, "cart-1")
    assert again.data == b"overwritten"
    assert again.etag != state.etag


def test_bulk_get_returns_each_key_and_empty_items_for_missing_ones(
    any_store: DaprClient,
) -> None:
    any_store.save_bulk_state(STATE, [StateItem(key="a", value="1"), StateItem(key="b", value="2")])

    items = any_store.get_bulk_state(STATE, ["a", "b", "missing"]).items

    assert [(i.key, i.data) for i in items] == [("a", b"1"), ("b", b"2"), ("missing", b"")]
    assert items[0].etag
    assert items[1].etag
    assert not items[2].etag


def test_delete_removes_the_key_and_checks_the_etag(client: DaprClient) -> None:
    client.save_state(STATE, "gone", "x")
    client.save_state(STATE, "kept", "y")
    etag = client.get_state(STATE, "kept").etag

    client.delete_state(STATE, "gone")
    error = _aborted(lambda: client.delete_state(STATE, "kept", etag="not-" + etag))
    client.delete_state(STATE, "kept", etag=etag)

    assert client.get_state(STATE, "gone").data == b""
    assert client.get_state(STATE, "kept").data == b""
    assert "etag" in str(error.details()).lower()


async def test_two_writers_with_the_same_etag_exactly_one_wins(
    cluster: Cluster, sqlite_store: SidecarProcess
) -> None:
    async with (
        cluster.async_client(sqlite_store) as first,
        cluster.async_client(sqlite_store) as second,
    ):
        for round_ in range(10):
            key = f"counter-{round_}"
            await first.save_state(STATE, key, "0")
            etag = (await first.get_state(STATE, key)).etag

            results = await asyncio.gather(
                first.save_state(STATE, key, "from-first", etag=etag),
                second.save_state(STATE, key, "from-second", etag=etag),
                return_exceptions=True,
            )

            failures = [r for r in results if isinstance(r, BaseException)]
            assert len(failures) == 1, results
            # the asyncio client wraps the gRPC error in a DaprInternalError
            cause = failures[0].__cause__
            assert isinstance(cause, grpc.aio.AioRpcError), failures[0]
            assert cause.code() == grpc.StatusCode.ABORTED
            assert f"possible etag mismatch for key '{key}'" in str(cause.details())
            winner = "from-first" if failures[0] is results[1] else "from-second"
            assert (await first.get_state(STATE, key)).data == winner.encode()


def test_stale_etag_is_refused_and_the_current_one_accepted(client: DaprClient) -> None:
    client.save_state(STATE, "doc", "v1")
    old = client.get_state(STATE, "doc").etag
    client.save_state(STATE, "doc", "v2", etag=old)
    new = client.get_state(STATE, "doc").etag

    _aborted(lambda: client.save_state(STATE, "doc", "v3", etag=old))

    client.save_state(STATE, "doc", "v3", etag=new)
    assert client.get_state(STATE, "doc").data == b"v3"


def test_first_write_creates_once_and_then_needs_the_etag(client: DaprClient) -> None:
    client.save_state(STATE, "seat-12", "alice", options=FIRST_WRITE)

    _aborted(lambda: client.save_state(STATE, "seat-12", "bob", options=FIRST_WRITE))
    state = client.get_state(STATE, "seat-12")
    assert state.data == b"alice"

    client.save_state(STATE, "seat-12", "carol", etag=state.etag, options=FIRST_WRITE)
    assert client.get_state(STATE, "seat-12").data == b"carol"


def test_transaction_applies_all_operations(client: DaprClient) -> None:
    client.save_state(STATE, "old", "x")

    client.execute_state_transaction(
        STATE,
        [
            TransactionalStateOperation(key="a", data="1"),
            TransactionalStateOperation(key="b", data="2"),
            TransactionalStateOperation(key="old", operation_type=TransactionOperationType.delete),
        ],
    )

    items = client.get_bulk_state(STATE, ["a", "b", "old"]).items
    assert [(i.key, i.data) for i in items] == [("a", b"1"), ("b", b"2"), ("old", b"")]


def test_transaction_with_a_stale_etag_changes_nothing(client: DaprClient) -> None:
    client.save_state(STATE, "balance", "100")
    stale = client.get_state(STATE, "balance").etag
    client.save_state(STATE, "balance", "90")
    client.save_state(STATE, "to-delete", "still here")

    _aborted(
        lambda: client.execute_state_transaction(
            STATE,
            [
                TransactionalStateOperation(key="new-key", data="written?"),
                TransactionalStateOperation(
                    key="to-delete", operation_type=TransactionOperationType.delete
                ),
                TransactionalStateOperation(key="balance", data="0", etag=stale),
            ],
        )
    )

    items = client.get_bulk_state(STATE, ["new-key", "to-delete", "balance"]).items
    assert [(i.key, i.data) for i in items] == [
        ("new-key", b""),
        ("to-delete", b"still here"),
        ("balance", b"90"),
    ]


def test_apps_sharing_a_state_file_do_not_see_each_others_keys(cluster: Cluster) -> None:
    cluster.resources({"state.yaml": component(STATE, "state.sqlite")})
    alpha = cluster.client(cluster.sidecar("alpha"))
    beta = cluster.client(cluster.sidecar("beta"))

    alpha.save_state(STATE, "shared-name", "alpha's")
    beta.save_state(STATE, "shared-name", "beta's")
    alpha.save_state(STATE, "only-alpha", "secret")

    assert alpha.get_state(STATE, "shared-name").data == b"alpha's"
    assert beta.get_state(STATE, "shared-name").data == b"beta's"
    assert beta.get_state(STATE, "only-alpha").data == b""
    # daprd's key layout, so a database written by one can be read by the other
    database = Path(cluster.data_dir) / f"{STATE}.state.sqlite"
    with sqlite3.connect(database) as db:
        keys = sorted(row[0] for row in db.execute("SELECT key FROM state"))
    assert keys == ["alpha||only-alpha", "alpha||shared-name", "beta||shared-name"]


def test_value_saved_with_ttl_expires(client: DaprClient) -> None:
    client.save_state(STATE, "session", "token", state_metadata={"ttlInSeconds": "1"})
    client.save_state(STATE, "profile", "kept")

    assert client.get_state(STATE, "session").data == b"token"
    wait_until(
        lambda: client.get_state(STATE, "session").data == b"",
        timeout=10,
        interval=0.1,
        what="the session key to expire",
    )
    assert client.get_state(STATE, "profile").data == b"kept"
    missing = client.get_bulk_state(STATE, ["session"]).items[0]
    assert (missing.data, missing.etag) == (b"", "")


def test_unknown_store_is_refused_naming_the_configured_ones(client: DaprClient) -> None:
    with pytest.raises(DaprGrpcError) as caught:
        client.get_state("no-such-store", "k")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no-such-store" in str(caught.value.details())
    assert STATE in str(caught.value.details())
