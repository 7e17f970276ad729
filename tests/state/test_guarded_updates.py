"""The services' guarded updates (`update`, `update_many` in services/common/state.py) on a
real sidecar's state store: many handler threads of one process changing one hot record
lose no change, and take turns rather than racing each other into refused writes; records
changed together lose nothing to a writer elsewhere."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from dapr.clients import DaprClient

from services.common.state import create, read, update, update_many, write
from services.contracts.messages import StockLevel
from testkit.resources import component
from tests.pubsub.harness import STATE, Cluster

THREADS = 8
EACH = 15
KEY = "test:stock:hot"


@pytest.fixture
def client(cluster: Cluster) -> DaprClient:
    cluster.resources({"state.yaml": component(STATE, "state.sqlite")})
    return cluster.client(cluster.sidecar("inventory"))


def test_one_process_changing_one_record_from_many_threads_loses_nothing_and_never_races(
    client: DaprClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert create(client, KEY, StockLevel(sku="HOT-1", available=THREADS * EACH).to_json())

    def take_one(_: int) -> None:
        def less(level: StockLevel) -> StockLevel:
            return level.model_copy(update={"available": level.available - 1})

        assert update(client, KEY, StockLevel, less)

    with (
        caplog.at_level(logging.DEBUG, logger="services.state"),
        ThreadPoolExecutor(THREADS) as pool,
    ):
        list(pool.map(take_one, range(THREADS * EACH)))

    stored = read(client, KEY, StockLevel)
    assert stored is not None
    assert stored.value.available == 0
    conflicts = [r for r in caplog.records if "state conflict" in r.getMessage()]
    assert conflicts == [], f"{len(conflicts)} writes were refused"


def test_records_changed_together_lose_nothing_when_another_process_writes_between(
    client: DaprClient,
) -> None:
    """`update_many` reads every record in one call; a record another writer replaced since
    then is refused its write, then read and changed again alone."""
    keys = [f"test:stock:many-{n}" for n in range(3)]
    for key in keys:
        assert create(client, key, StockLevel(sku="MANY-1", available=10).to_json())

    def less(level: StockLevel) -> StockLevel:
        return level.model_copy(update={"available": level.available - 1})

    def less_while_another_process_takes_five_of_the_last(level: StockLevel) -> StockLevel:
        # The other writer holds no lock of this process: only the ETag stops our write.
        elsewhere = read(client, keys[2], StockLevel)
        assert elsewhere is not None
        write(
            client,
            keys[2],
            elsewhere.value.model_copy(update={"available": 5}).to_json(),
            elsewhere.etag,
        )
        return less(level)

    changes = {
        keys[0]: less_while_another_process_takes_five_of_the_last,
        keys[1]: less,
        keys[2]: less,
    }
    assert update_many(client, changes, StockLevel) == dict.fromkeys(keys, True)

    levels = [read(client, key, StockLevel) for key in keys]
    assert [stored.value.available for stored in levels if stored] == [9, 9, 4]


def test_a_missing_record_or_a_refused_change_is_false_and_the_others_are_written(
    client: DaprClient,
) -> None:
    assert create(client, "test:stock:few", StockLevel(sku="FEW-1", available=1).to_json())
    assert create(client, "test:stock:plenty", StockLevel(sku="PLENTY-1", available=9).to_json())

    def take_two(level: StockLevel) -> StockLevel | None:
        if level.available < 2:
            return None
        return level.model_copy(update={"available": level.available - 2})

    keys = ["test:stock:few", "test:stock:plenty", "test:stock:none"]
    done = update_many(client, dict.fromkeys(keys, take_two), StockLevel)

    assert done == {"test:stock:few": False, "test:stock:plenty": True, "test:stock:none": False}
    plenty = read(client, "test:stock:plenty", StockLevel)
    few = read(client, "test:stock:few", StockLevel)
    assert plenty is not None
    assert few is not None
    assert (few.value.available, plenty.value.available) == (1, 7)
