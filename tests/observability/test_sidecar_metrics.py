"""The embedded sidecar serves daprd's metrics on `--metrics-port`: pub/sub ingress (how
the app answered each delivery) and egress, state calls and workflow operations, under
daprd's names and labels, in a text format Prometheus' parser reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dapr.ext.workflow import DaprWorkflowClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from testkit.observer import SubscriberApp, sub
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.resources import component, write_resources
from testkit.sidecar import HOST, SidecarProcess, dapr_client, sdk_environment, wait_connected

APP_ID = "metered"


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    resources = write_resources(
        tmp_path / "resources",
        {
            "pubsub.yaml": component("pubsub", "pubsub.sqlite"),
            "state.yaml": component("statestore", "state.sqlite"),
        },
    )
    app = SubscriberApp(
        tmp_path / "app", "metered", [sub("fine"), sub("poison", behaviour="drop")]
    ).start()
    process = SidecarProcess(
        tmp_path / "data",
        app_id=APP_ID,
        extra_args=[
            "--resources-path",
            str(resources),
            "--app-port",
            str(app.port),
            "--metrics-port",
            str(free_port()),
        ],
        env={"NAMESPACE": "shop"},
    ).start()
    wait_connected(process)
    try:
        yield process
    finally:
        process.stop()
        app.kill()


def _metrics_port(sidecar: SidecarProcess) -> int:
    return int(sidecar.extra_args[sidecar.extra_args.index("--metrics-port") + 1])


def _exposition(sidecar: SidecarProcess) -> str:
    return httpx.get(f"http://{HOST}:{_metrics_port(sidecar)}/metrics", timeout=5).text


def _samples(sidecar: SidecarProcess) -> dict[str, list[Sample]]:
    """The samples by name, read by prometheus_client's parser (which also proves the
    format). The parser names a counter's samples `<name>_total`; the exposition does not
    (`test_counts_keep_daprds_names`), so the suffix is taken off again."""
    by_name: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(_exposition(sidecar)):
        for sample in family.samples:
            name = sample.name.removesuffix("_total") if family.type == "counter" else sample.name
            by_name.setdefault(name, []).append(sample)
    return by_name


def _count(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples.get(name, [])
        if all(s.labels.get(key) == value for key, value in labels.items())
    )


def test_daprd_metrics_for_pubsub_state_and_workflows(sidecar: SidecarProcess) -> None:
    with dapr_client(HOST, sidecar.grpc_port, sidecar.http_port) as dapr:
        dapr.publish_event("pubsub", "fine", '{"n": 1}', data_content_type="application/json")
        dapr.publish_event("pubsub", "poison", '{"n": 2}', data_content_type="application/json")
        dapr.save_state("statestore", "k", "v")
        dapr.get_state("statestore", "k")
    with sdk_environment(sidecar.http_port):
        workflows = DaprWorkflowClient(host=HOST, port=str(sidecar.grpc_port))
        try:
            assert workflows.get_workflow_state("nothing-here") is None
        finally:
            workflows.close()

    def delivered() -> dict[str, list[Sample]] | None:
        samples = _samples(sidecar)
        name = "dapr_component_pubsub_ingress_count"
        return samples if _count(samples, name) >= 2 else None

    samples = wait_until(delivered, timeout=30, interval=0.2, what="both deliveries counted")
    common = {"app_id": APP_ID, "namespace": "shop", "component": "pubsub"}
    ingress = "dapr_component_pubsub_ingress_count"
    assert _count(samples, ingress, topic="fine", process_status="success", **common) == 1
    # An app answering DROP: daprd's process_status drop, status success.
    assert (
        _count(samples, ingress, topic="poison", process_status="drop", status="success", **common)
        == 1
    )
    assert _count(samples, "dapr_component_pubsub_ingress_latencies_count", **common) == 2
    egress = "dapr_component_pubsub_egress_count"
    assert _count(samples, egress, topic="fine", success="true", **common) == 1
    assert _count(samples, egress, topic="poison", success="true", **common) == 1
    state = {"app_id": APP_ID, "namespace": "shop", "component": "statestore", "success": "true"}
    assert _count(samples, "dapr_component_state_count", operation="set", **state) == 1
    assert _count(samples, "dapr_component_state_count", operation="get", **state) == 1
    assert _count(samples, "dapr_component_state_latencies_count", **state) == 2
    assert (
        _count(
            samples,
            "dapr_runtime_workflow_operation_count",
            operation="get_workflow",
            status="success",
        )
        == 1
    )


def test_counts_keep_daprds_names(sidecar: SidecarProcess) -> None:
    """A count is a counter under the view's own name, as daprd's exporter writes it."""
    with dapr_client(HOST, sidecar.grpc_port, sidecar.http_port) as dapr:
        dapr.save_state("statestore", "k", "v")
    text = _exposition(sidecar)
    assert "# TYPE dapr_component_state_count counter\n" in text
    assert "\ndapr_component_state_count{" in text
    assert "_total" not in text
    assert "_created" not in text


def test_a_failed_call_counts_as_unsuccessful(sidecar: SidecarProcess) -> None:
    with (
        dapr_client(HOST, sidecar.grpc_port, sidecar.http_port) as dapr,
        pytest.raises(Exception, match="no-such-store"),
    ):
        dapr.get_state("no-such-store", "k")
    samples = _samples(sidecar)
    assert (
        _count(samples, "dapr_component_state_count", component="no-such-store", success="false")
        == 1
    )


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    port = free_port()
    sidecar = SidecarProcess(
        tmp_path, extra_args=["--enable-metrics=false", "--metrics-port", str(port)]
    ).start()
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{HOST}:{port}/metrics", timeout=2)
    finally:
        sidecar.stop()


def test_a_named_metrics_port_in_use_stops_the_sidecar(tmp_path: Path) -> None:
    first = SidecarProcess(tmp_path / "a", extra_args=["--metrics-port", str(free_port())]).start()
    try:
        taken = first.extra_args[-1]
        second = SidecarProcess(tmp_path / "b", extra_args=["--metrics-port", taken])
        with pytest.raises(Exception, match="exit"):
            second.start()
        assert "metrics server" in second.logs()
    finally:
        first.stop()
