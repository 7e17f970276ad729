"""The services' guarded updates (services/common/state.py) on a real sidecar's state
store: many handler threads of one process changing one hot record lose no change, and
take turns rather than racing each other into refused writes."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from dapr.clients import DaprClient

from services.common.state import create, read, update
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
