"""Another process holds a shared file's write lock: the sidecar keeps answering.

A write waits for the lock (up to 30 s); it used to wait on the event loop, and the whole
sidecar (health, metadata, reads, every gRPC call) froze with it. Writes now wait in the
store's thread, state reads have their own connection (WAL: readers never wait for a
writer), and the write lands once the lock is released. The two files the sidecars of a
run share are held in turn: the state store's and the pub/sub store's.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest
from dapr.proto.runtime.v1 import dapr_pb2_grpc, metadata_pb2

from testkit.sidecar import SidecarProcess

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
HELD_FOR = 2.0  # seconds of answers demanded while a write waits for the lock


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    process = SidecarProcess(
        tmp_path, extra_args=["--resources-path", str(COMPONENTS), "--enable-metrics=false"]
    ).start()
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("held", "write_path", "write_body", "written"),
    [
        (
            "state.sqlite",
            "/v1.0/state/statestore",
            [{"key": "after", "value": 2}],
            "SELECT count(*) FROM state WHERE key = 'after'",
        ),
        (
            "pubsub.sqlite",
            "/v1.0/publish/pubsub/orders",
            {"order": 2},
            "SELECT count(*) FROM messages WHERE topic = 'orders'",
        ),
    ],
    ids=["state", "pubsub"],
)
def test_health_metadata_and_reads_answer_while_another_process_holds_the_write_lock(
    sidecar: SidecarProcess,
    tmp_path: Path,
    held: str,
    write_path: str,
    write_body: object,
    written: str,
) -> None:
    base = f"http://127.0.0.1:{sidecar.http_port}"
    with (
        httpx.Client(base_url=base, timeout=5) as http,
        grpc.insecure_channel(sidecar.address) as channel,
        ThreadPoolExecutor(1) as background,
    ):
        saved = http.post("/v1.0/state/statestore", json=[{"key": "before", "value": 1}])
        assert saved.status_code == 204
        runtime = dapr_pb2_grpc.DaprStub(channel)

        holder = sqlite3.connect(tmp_path / held, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        try:
            waiting = background.submit(lambda: http.post(write_path, json=write_body))
            submitted = time.monotonic()
            answers = 0
            while time.monotonic() - submitted < HELD_FOR:
                assert http.get("/v1.0/healthz").status_code == 204
                assert http.get("/v1.0/metadata").json()["id"] == sidecar.app_id
                assert json.loads(http.get("/v1.0/state/statestore/before").content) == 1
                metadata = runtime.GetMetadata(metadata_pb2.GetMetadataRequest(), timeout=5)
                assert metadata.id == sidecar.app_id
                answers += 1
            assert not waiting.done(), "the write did not wait for the lock"
            assert holder.execute(written).fetchone() == (0,)
        finally:
            holder.execute("COMMIT")
            holder.close()

        assert waiting.result(timeout=30).status_code == 204
        with sqlite3.connect(tmp_path / held) as reader:
            assert reader.execute(written).fetchone() == (1,)
        reader.close()
    assert answers > 10
