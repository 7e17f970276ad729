"""Resource files: a malformed one stops the sidecar at start-up with a message naming the
file and the field; the loader honours scopes and both Subscription API versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.resources.loader import ResourceError, load_resources
from testkit.ports import free_port
from testkit.resources import component, resiliency, subscription
from tests.pubsub.harness import PUBSUB, ROOT

PUBSUB_COMPONENT = yaml.safe_dump(component(PUBSUB, "pubsub.sqlite"))


def _start_sidecar(resources: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sidecar",
            "--app-id",
            "checkout",
            "--resources-path",
            str(resources),
            "--data-dir",
            str(data_dir),
            "--dapr-grpc-port",
            str(free_port()),
            "--dapr-http-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document)


def _without_topic() -> str:
    document = subscription("orders-sub", "orders", default="orders")
    del document["spec"]["topic"]
    return _yaml(document)


def _unknown_retry_reference() -> str:
    document = resiliency()
    document["spec"]["targets"]["components"][PUBSUB]["inbound"]["retry"] = "nope"
    return _yaml(document)


def _retry_field(field: str, value: str) -> str:
    document = resiliency()
    document["spec"]["policies"]["retries"]["quick"][field] = value
    return _yaml(document)


MALFORMED = [
    pytest.param(
        "broken.yaml",
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: [unclosed\n",
        "yaml",
        "line 3",
        id="bad-yaml",
    ),
    pytest.param(
        "redis.yaml",
        _yaml(component("cache", "state.redis")),
        "spec.type",
        "unsupported component type 'state.redis'",
        id="unknown-component-type",
    ),
    pytest.param(
        "subscription.yaml",
        _without_topic(),
        "spec.topic",
        "required",
        id="subscription-without-topic",
    ),
    pytest.param(
        "resiliency.yaml",
        _unknown_retry_reference(),
        f"spec.targets.components.{PUBSUB}.inbound.retry",
        "no retry policy named 'nope'",
        id="resiliency-unknown-policy",
    ),
    pytest.param(
        "resiliency.yaml",
        _retry_field("policy", "linear"),
        "spec.policies.retries.quick.policy",
        "unknown policy 'linear'",
        id="resiliency-unknown-policy-kind",
    ),
    pytest.param(
        "resiliency.yaml",
        _retry_field("duration", "5 seconds"),
        "spec.policies.retries.quick.duration",
        "invalid duration '5 seconds'",
        id="resiliency-bad-duration",
    ),
    pytest.param(
        "resiliency.yaml",
        _retry_field("maxRetries", "many"),
        "spec.policies.retries.quick.maxRetries",
        "'many'",
        id="resiliency-bad-max-retries",
    ),
    pytest.param(
        "subscription.yaml",
        _yaml(subscription("bad-rule", "orders", rules=(("event.type ==", "x"),))),
        "spec.routes.rules[0].match",
        "event.type ==",
        id="subscription-bad-cel",
    ),
]


@pytest.mark.parametrize(("filename", "text", "field", "problem"), MALFORMED)
def test_malformed_resource_stops_the_sidecar_naming_file_and_field(
    tmp_path: Path, filename: str, text: str, field: str, problem: str
) -> None:
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "pubsub.yaml").write_text(PUBSUB_COMPONENT)
    (resources / filename).write_text(text)

    result = _start_sidecar(resources, tmp_path / "data")

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"sidecar: {resources / filename}: {field}: "), result.stderr
    assert problem in message
    assert "Traceback" not in result.stderr


def _load(tmp_path: Path, app_id: str, documents: dict[str, dict[str, Any]]) -> Any:
    folder = tmp_path / "resources"
    folder.mkdir(exist_ok=True)
    for name, document in documents.items():
        (folder / name).write_text(_yaml(document))
    return load_resources([folder], app_id)


def test_loader_skips_resources_scoped_to_other_apps(tmp_path: Path) -> None:
    documents = {
        "everyone.yaml": component("shared", "state.sqlite"),
        "mine.yaml": component("mine", "pubsub.sqlite", scopes=["checkout", "billing"]),
        "theirs.yaml": component("theirs", "state.in-memory", scopes=["shipping"]),
        "sub-mine.yaml": subscription("s1", "orders", default="orders", scopes=["checkout"]),
        "sub-theirs.yaml": subscription("s2", "refunds", default="refunds", scopes=["other"]),
    }

    checkout = _load(tmp_path, "checkout", documents)
    shipping = load_resources([tmp_path / "resources"], "shipping")

    assert sorted(c.name for c in checkout.components) == ["mine", "shared"]
    assert [s.topic for s in checkout.subscriptions] == ["orders"]
    assert sorted(c.name for c in shipping.components) == ["shared", "theirs"]
    assert shipping.subscriptions == []


def test_loader_reads_v1alpha1_route_as_the_default_route(tmp_path: Path) -> None:
    v1 = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Subscription",
        "metadata": {"name": "legacy"},
        "spec": {
            "pubsubname": PUBSUB,
            "topic": "orders",
            "route": "/orders",
            "deadLetterTopic": "orders-dead",
        },
    }
    v2 = subscription(
        "modern",
        "payments",
        rules=(("event.data.amount > 100", "/big"),),
        default="/payments",
    )

    resources = _load(tmp_path, "checkout", {"v1.yaml": v1, "v2.yaml": v2})

    legacy, modern = sorted(resources.subscriptions, key=lambda s: s.name)
    assert (legacy.topic, legacy.default_route, legacy.rules) == ("orders", "/orders", ())
    assert legacy.dead_letter_topic == "orders-dead"
    assert modern.default_route == "/payments"
    assert [(r.match, r.path) for r in modern.rules] == [("event.data.amount > 100", "/big")]


def test_loader_refuses_a_v1alpha1_subscription_without_route(tmp_path: Path) -> None:
    v1 = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Subscription",
        "metadata": {"name": "legacy"},
        "spec": {"pubsubname": PUBSUB, "topic": "orders"},
    }

    with pytest.raises(ResourceError) as caught:
        _load(tmp_path, "checkout", {"v1.yaml": v1})

    assert caught.value.field == "spec.route"
    assert caught.value.source.endswith("v1.yaml")


def test_loader_refuses_a_duplicate_name(tmp_path: Path) -> None:
    with pytest.raises(ResourceError) as caught:
        _load(
            tmp_path,
            "checkout",
            {
                "a.yaml": component("store", "state.sqlite"),
                "b.yaml": component("store", "state.in-memory"),
            },
        )

    assert caught.value.field == "metadata.name"
    assert "a.yaml" in str(caught.value)
