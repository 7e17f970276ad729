"""Scraping, the dashboard and the alerts: a PodMonitor and a PrometheusRule when the cluster
serves the Prometheus Operator's API, `prometheus.io/*` annotations otherwise, and the
Grafana dashboard ConfigMap either way. promtool checks the rules themselves
(tests/observability)."""

from __future__ import annotations

import json

import helm_python as helm
import pytest

from tests.chart.rendering import (
    APP_IDS,
    MONITORING_API,
    Manifest,
    Render,
    containers,
    env_of,
    render,
)

ALERTS = {
    "SagaStuck",
    "SagaCompensationFailed",
    "SagaDeadLettersGrowing",
    "SagaApprovalNearDeadline",
}


@pytest.fixture(scope="module")
def with_operator(chart: helm.Chart) -> Render:
    """The default values in a cluster that serves monitoring.coreos.com/v1."""
    return render(
        chart,
        {},
        name="operator",
        release="saga-mon",
        namespace="saga-mon",
        api_versions=(MONITORING_API,),
    )


@pytest.fixture(scope="module")
def metrics_off(chart: helm.Chart) -> Render:
    return render(
        chart,
        {"metrics": {"enabled": False}},
        name="metrics-off",
        release="saga-off",
        namespace="saga-off",
        api_versions=(MONITORING_API,),
    )


def _pod(render: Render, app_id: str) -> tuple[Manifest, Manifest]:
    template = render.deployment(app_id)["spec"]["template"]
    return template["metadata"], template["spec"]


def _ports(pod_spec: Manifest) -> dict[str, int]:
    return {
        port["name"]: port["containerPort"]
        for container in containers(pod_spec)
        for port in container.get("ports", [])
    }


def test_without_the_operator_the_apps_are_scraped_by_annotations(each_render: Render) -> None:
    assert each_render.of_kind("PodMonitor") == []
    assert each_render.of_kind("PrometheusRule") == []
    for app_id in APP_IDS:
        metadata, spec = _pod(each_render, app_id)
        annotations = metadata["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) in _ports(spec).values()
        assert annotations["dapr.io/enable-metrics"] == "true"
        assert annotations["dapr.io/metrics-port"] == "9090"


def test_the_command_services_serve_metrics_on_their_port(each_render: Render) -> None:
    for app_id in APP_IDS[1:]:
        _, spec = _pod(each_render, app_id)
        env = env_of(spec["containers"][0])
        assert _ports(spec)["metrics"] == int(env["METRICS_PORT"]["value"]) == 9091
        assert env["METRICS_HOST"]["value"] == "0.0.0.0"


def test_with_the_operator_one_podmonitor_scrapes_apps_and_sidecars(with_operator: Render) -> None:
    [monitor] = with_operator.of_kind("PodMonitor")
    assert monitor["metadata"]["namespace"] == with_operator.namespace
    selector = monitor["spec"]["selector"]
    [components] = selector["matchExpressions"]
    assert components["values"] == list(APP_IDS)
    endpoints = {e["port"]: e["path"] for e in monitor["spec"]["podMetricsEndpoints"]}
    assert endpoints == {"http-api": "/metrics", "metrics": "/metrics", "dapr-metrics": "/"}
    for app_id in APP_IDS:
        metadata, spec = _pod(with_operator, app_id)
        labels = metadata["labels"]
        assert all(labels[key] == value for key, value in selector["matchLabels"].items())
        assert labels["app.kubernetes.io/component"] in components["values"]
        assert "prometheus.io/scrape" not in metadata["annotations"]
        # Each pod has the app endpoint's port (daprd's is added by the injector).
        assert {"http-api", "metrics"} & set(_ports(spec))


def test_with_the_operator_the_alerts_are_rendered(with_operator: Render) -> None:
    [rule] = with_operator.of_kind("PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert set(alerts) == ALERTS
    for alert in alerts.values():
        assert f'namespace="{with_operator.namespace}"' in alert["expr"]
        assert alert["labels"]["severity"] in {"critical", "warning"}
        assert alert["annotations"]["summary"]
        assert "{{ $labels.namespace }}" in alert["annotations"]["description"]


def test_runbook_links_when_a_runbook_url_is_given(chart: helm.Chart) -> None:
    url = "https://runbooks.example.com/saga"
    rendered = render(
        chart,
        {"metrics": {"prometheusRule": {"runbookUrl": url}}},
        name="runbook",
        release="saga-rb",
        namespace="saga-rb",
        api_versions=(MONITORING_API,),
    )
    [rule] = rendered.of_kind("PrometheusRule")
    links = {r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert links == {f"{url}#{alert.lower()}" for alert in ALERTS}


def test_the_dashboard_configmap_is_discovered_by_grafana(each_render: Render) -> None:
    [configmap] = [
        obj
        for obj in each_render.of_kind("ConfigMap")
        if obj["metadata"]["name"].endswith("-dashboard")
    ]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["saga-platform.json"])
    assert dashboard["uid"] == "saga-platform"
    assert dashboard["panels"]


def test_metrics_off_renders_no_monitoring(metrics_off: Render) -> None:
    assert metrics_off.of_kind("PodMonitor") == []
    assert metrics_off.of_kind("PrometheusRule") == []
    assert [
        o for o in metrics_off.of_kind("ConfigMap") if "-dashboard" in o["metadata"]["name"]
    ] == []
    for app_id in APP_IDS:
        metadata, spec = _pod(metrics_off, app_id)
        assert metadata["annotations"]["dapr.io/enable-metrics"] == "false"
        assert "prometheus.io/scrape" not in metadata["annotations"]
        assert "METRICS_PORT" not in env_of(spec["containers"][0])


def test_network_policies_let_the_scrapers_reach_both_metrics_ports(chart: helm.Chart) -> None:
    scraper = {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}
    rendered = render(
        chart,
        {"networkPolicy": {"enabled": True, "metricsFrom": [scraper]}},
        name="netpol-metrics",
        release="saga-np",
        namespace="saga-np",
    )
    for app_id in APP_IDS:
        policy = rendered.one("NetworkPolicy", rendered.name_of(app_id))
        [rule] = [r for r in policy["spec"]["ingress"] if scraper in r["from"]]
        ports = {p["port"] for p in rule["ports"]}
        _, spec = _pod(rendered, app_id)
        assert 9090 in ports
        assert ports - {9090} <= set(_ports(spec).values())
