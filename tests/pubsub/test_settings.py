"""Settings the embedded sidecar does not apply are refused, never ignored: each stops
start-up with the file and field named (daprd applies them, or, for unknown metadata and
fields, drops them silently; docs/sidecar-runtime.md, "Known differences")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dapr.proto.runtime.v1 import appcallback_pb2

from services.contracts.names import PUBSUB, STATESTORE
from sidecar.pubsub.subscriptions import app_subscriptions
from sidecar.resources.loader import ResourceError, load_resources
from testkit.polling import wait_until
from testkit.resources import component, resiliency, subscription
from tests.pubsub.harness import Cluster, sqlite_pubsub


def _policy(**extra: Any) -> dict[str, Any]:
    document = resiliency()
    document["spec"]["policies"]["retries"]["quick"].update(extra)
    return document


def _targets(**targets: Any) -> dict[str, Any]:
    document = resiliency()
    document["spec"]["targets"].update(targets)
    return document


def _named(name: str) -> dict[str, Any]:
    document = resiliency()
    retries = document["spec"]["policies"]["retries"]
    retries[name] = retries["quick"]
    return document


def _bulk() -> dict[str, Any]:
    document = subscription("bulk", "orders", default="/orders")
    document["spec"]["bulkSubscribe"] = {"enabled": True, "maxMessagesCount": 10}
    return document


def _breaker() -> dict[str, Any]:
    document = resiliency()
    document["spec"]["policies"]["circuitBreakers"] = {"cb": {"trip": "consecutiveFailures > 3"}}
    return document


REFUSED = [
    pytest.param(
        component(STATESTORE, "state.sqlite", {"tablename": "x"}),
        "spec.metadata.tablename",
        "unknown metadata for state.sqlite",
        id="unknown-state-metadata",
    ),
    pytest.param(
        component(PUBSUB, "pubsub.sqlite", {"consumerID": "group"}),
        "spec.metadata.consumerID",
        "unknown metadata for pubsub.sqlite",
        id="unknown-pubsub-metadata",
    ),
    pytest.param(
        component(STATESTORE, "state.in-memory", {"connectionString": "x.db"}),
        "spec.metadata.connectionString",
        "it takes:",
        id="metadata-of-another-type",
    ),
    pytest.param(
        component(STATESTORE, "state.sqlite", {"disableWAL": "true"}),
        "spec.metadata.disableWAL",
        "always use WAL",
        id="disable-wal",
    ),
    pytest.param(
        component(STATESTORE, "state.sqlite", {"outboxPublishPubsub": PUBSUB}),
        "spec.metadata.outboxPublishTopic",
        "needs both",
        id="outbox-without-topic",
    ),
    pytest.param(_breaker(), "spec.policies.circuitBreakers", "circuit breakers", id="breakers"),
    pytest.param(
        _policy(matching={"gRPCStatusCodes": "1-4"}),
        "spec.policies.retries.quick.matching",
        "retry conditions",
        id="retry-matching",
    ),
    pytest.param(
        _policy(maxretries=3),
        "spec.policies.retries.quick.maxretries",
        "unknown field",
        id="retry-typo",
    ),
    pytest.param(
        _targets(apps={"billing": {"retry": "quick"}}),
        "spec.targets.apps",
        "policies for apps",
        id="app-target",
    ),
    pytest.param(
        _targets(actors={"cart": {"retry": "quick"}}),
        "spec.targets.actors",
        "policies for actors",
        id="actor-target",
    ),
    pytest.param(
        _targets(components={PUBSUB: {"outbound": {"retry": "quick"}}}),
        f"spec.targets.components.{PUBSUB}.outbound",
        "outbound calls",
        id="outbound-target",
    ),
    pytest.param(
        _targets(components={PUBSUB: {"inbound": {"circuitBreaker": "cb"}}}),
        f"spec.targets.components.{PUBSUB}.inbound.circuitBreaker",
        "circuit breakers",
        id="inbound-breaker",
    ),
    pytest.param(
        _named("DefaultRetryPolicy"),
        "spec.policies.retries.DefaultRetryPolicy",
        "only DefaultPubsubComponentInbound* and DefaultComponentInbound* are",
        id="default-policy-of-everything",
    ),
    pytest.param(
        _named("DaprBuiltInServiceRetries"),
        "spec.policies.retries.DaprBuiltInServiceRetries",
        "built-in policy",
        id="built-in-override",
    ),
    pytest.param(_bulk(), "spec.bulkSubscribe", "bulk subscribe", id="bulk-subscribe"),
]


@pytest.mark.parametrize(("document", "field", "problem"), REFUSED)
def test_a_setting_the_sidecar_does_not_apply_stops_start_up(
    tmp_path: Path, document: dict[str, Any], field: str, problem: str
) -> None:
    (tmp_path / "resource.yaml").write_text(yaml.safe_dump(document))

    with pytest.raises(ResourceError) as caught:
        load_resources([tmp_path], "billing")

    assert caught.value.field == field
    assert problem in str(caught.value)


def test_accepted_settings_load(tmp_path: Path) -> None:
    """What daprd knows and the sidecar honours, or has nothing to act on, loads."""
    documents = {
        "state.yaml": component(
            STATESTORE,
            "state.sqlite",
            {
                "keyPrefix": "none",
                "actorStateStore": "true",
                "busyTimeout": "5s",
                "timeout": "20s",
                "disableWAL": "false",
                "outboxPublishPubsub": PUBSUB,
                "outboxPublishTopic": "orders",
                "outboxDiscardWhenMissingState": "true",
            },
        ),
        "inbound.yaml": _named("DefaultPubsubComponentInboundRetryPolicy"),
    }
    for name, document in documents.items():
        (tmp_path / name).write_text(yaml.safe_dump(document))

    resources = load_resources([tmp_path], "billing")

    assert [c.name for c in resources.components] == [STATESTORE]
    assert resources.inbound_policy(PUBSUB).retry is not None


def test_a_configuration_in_the_resources_path_is_reported_as_not_applied(
    cluster: Cluster,
) -> None:
    configuration = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Configuration",
        "metadata": {"name": "tracing"},
        "spec": {"tracing": {"samplingRate": "1"}},
    }
    cluster.resources({**sqlite_pubsub(), "config.yaml": configuration})

    sidecar = cluster.sidecar("billing")

    [warning] = wait_until(
        lambda: [line for line in sidecar.log_lines() if line.get("configuration") == "tracing"],
        timeout=10,
    )
    assert warning["level"] == "warning"
    assert "--config" in warning["msg"]


def test_an_app_subscription_asking_for_bulk_delivery_is_refused() -> None:
    """The app's `bulkSubscribe` (from `ListTopicSubscriptions`) is refused with an error log
    and that subscription receives nothing; the app's others are kept."""
    bulk = appcallback_pb2.TopicSubscription(pubsub_name=PUBSUB, topic="bulk")
    bulk.bulk_subscribe.enabled = True
    plain = appcallback_pb2.TopicSubscription(pubsub_name=PUBSUB, topic="plain")
    response = appcallback_pb2.ListTopicSubscriptionsResponse(subscriptions=[bulk, plain])

    assert [s.topic for s in app_subscriptions(response)] == ["plain"]
