"""The payment service's card vault in the chart: its edge served and reachable only by the
peers named, and its key from a Secret (or, for a single dev pod, a key of its own)."""

from __future__ import annotations

import helm_python as helm
import pytest

from tests.chart.rendering import DEFAULT, Render, env_of, render


def _payment_env(rendered: Render) -> dict[str, dict[str, object]]:
    [container] = rendered.deployment("payment")["spec"]["template"]["spec"]["containers"]
    return env_of(container)


def test_the_card_edge_has_a_service_and_listens_on_every_interface(
    renders: dict[str, Render],
) -> None:
    default = renders[DEFAULT]
    env = _payment_env(default)
    service = default.one("Service", default.name_of("payment") + "-vault")

    assert (env["VAULT_PORT"]["value"], env["VAULT_HOST"]["value"]) == ("8090", "0.0.0.0")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8090, 8090)]
    # No Secret named: a key of the pod's own, on its writable /tmp.
    assert env["PAYMENT_VAULT_KEY_FILE"]["value"] == "/tmp/payment-vault.key"
    assert "PAYMENT_VAULT_KEY" not in env


def test_the_vault_key_comes_from_the_secret_named(renders: dict[str, Render]) -> None:
    for name in ("digests", "replicas-3"):
        env = _payment_env(renders[name])
        assert env["PAYMENT_VAULT_KEY"]["valueFrom"] == {
            "secretKeyRef": {"name": "payment-vault-key", "key": "vault-key"}
        }
        assert "PAYMENT_VAULT_KEY_FILE" not in env


def test_only_the_peers_named_reach_the_card_edge(renders: dict[str, Render]) -> None:
    on = renders["networkpolicies"]
    policy = on.one("NetworkPolicy", on.name_of("payment"))
    vault_rules = [
        rule
        for rule in policy["spec"]["ingress"]
        if rule.get("ports") == [{"protocol": "TCP", "port": 8090}]
    ]

    assert vault_rules == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "checkout"}}}
            ],
            "ports": [{"protocol": "TCP", "port": 8090}],
        }
    ]


def test_several_payment_replicas_need_one_key_from_a_secret(chart: helm.Chart) -> None:
    with pytest.raises(Exception, match=r"payment\.vault\.keySecret\.name"):
        render(chart, {"payment": {"replicaCount": 2}}, name="two", release="two", namespace="two")
