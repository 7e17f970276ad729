"""A message crossing from one app to another under `python -m sidecar.runner -f dapr.yaml`.

Two real apps, each with the embedded sidecar the runner gives it: `checkout` publishes
with the SDK's `DaprClient`, using only the environment the runner sets, and `shipping`
is a `dapr.ext.grpc.App` subscriber. Both sidecars load the same resources folder, whose
`pubsub.sqlite` component lives in the data folder the runner shares between them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testkit.ports import free_port
from testkit.process import processes_mentioning
from testkit.runner import RunnerProcess

PUBSUB = "orderpubsub"

PUBLISHER = '''
"""App A: once the subscriber's sidecar lists its subscription, publishes one order."""
import json, os, signal, sys, time, urllib.request

from dapr.clients import DaprClient

# Before the subscriber's sidecar registered its subscription, nobody would receive the
# message (as with daprd, a topic without subscribers keeps nothing).
metadata = f"http://127.0.0.1:{os.environ['SUBSCRIBER_HTTP_PORT']}/v1.0/metadata"
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(metadata, timeout=2) as reply:
            if json.load(reply).get("subscriptions"):
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the subscriber never subscribed")
    time.sleep(0.1)

with DaprClient() as client:  # DAPR_GRPC_PORT and DAPR_HTTP_PORT come from the runner
    client.publish_event(
        "orderpubsub",
        "orders",
        json.dumps({"orderId": 42, "placedBy": os.environ["APP_ID"]}),
        data_content_type="application/json",
    )
print("MARKER published", flush=True)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
'''

SUBSCRIBER = '''
"""App B: a dapr.ext.grpc.App that prints every order it receives."""
import json, os

from dapr.ext.grpc import App, SubscriptionMessage, TopicEventResponse

app = App()


@app.subscribe(pubsub_name="orderpubsub", topic="orders")
def on_order(event: SubscriptionMessage) -> TopicEventResponse:
    data = json.dumps(event.data(), sort_keys=True)
    print(f"MARKER received topic={event.topic()} source={event.source()} data={data}", flush=True)
    return TopicEventResponse("success")


app.run(int(os.environ["APP_PORT"]), listen_address="127.0.0.1")
'''


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    for name in ("checkout", "shipping", "resources"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkout" / "publisher.py").write_text(PUBLISHER)
    (tmp_path / "shipping" / "subscriber.py").write_text(SUBSCRIBER)
    component = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": PUBSUB},
        "spec": {"type": "pubsub.sqlite", "version": "v1", "metadata": []},
    }
    (tmp_path / "resources" / "pubsub.yaml").write_text(yaml.safe_dump(component))
    yield tmp_path
    for pid in processes_mentioning(str(tmp_path)):  # only after a failed test
        os.kill(pid, signal.SIGKILL)


def write_template(project: Path) -> Path:
    subscriber_http_port = free_port()
    run_file = project / "dapr.yaml"
    run_file.write_text(
        f"""
version: 1
common:
  resourcesPath: ./resources
apps:
  - appID: checkout
    appDirPath: ./checkout
    env:
      SUBSCRIBER_HTTP_PORT: "{subscriber_http_port}"
    command: ["{sys.executable}", "{project / "checkout" / "publisher.py"}"]
  - appID: shipping
    appDirPath: ./shipping
    appPort: {free_port()}
    daprHTTPPort: {subscriber_http_port}
    command: ["{sys.executable}", "{project / "shipping" / "subscriber.py"}"]
"""
    )
    return run_file


def test_a_message_published_by_one_app_reaches_the_other_app(
    project: Path, runners: list[RunnerProcess]
) -> None:
    runner = RunnerProcess.start(write_template(project), "--grace-period", "10")
    runners.append(runner)

    received = runner.wait_for("== APP == shipping | MARKER received", timeout=90)
    assert "topic=orders source=checkout" in received, runner.output()
    data = json.loads(received.split(" data=", 1)[1])
    assert data == {"orderId": 42, "placedBy": "checkout"}
    # The two apps print on their own: the publisher's line may come after the delivery's.
    runner.wait_for("== APP == checkout | MARKER published", timeout=30)
    assert len(runner.matching("MARKER received")) == 1, runner.output()
    # Both sidecars opened the one database the component names under the shared data dir.
    assert (project / ".data" / f"{PUBSUB}.pubsub.sqlite").is_file()

    runner.process.send_signal(signal.SIGTERM)
    assert runner.wait_exit() == 0, runner.output()
    assert runner.lines[-1] == "runner: stopped"
    assert processes_mentioning(str(project)) == {}
