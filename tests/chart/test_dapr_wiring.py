"""The chart wires each app into Dapr the way dapr.yaml and the apps themselves do: the same
app ids, callback ports and protocol, the same entry points in the images, the component
names of the contracts, and declarative subscriptions (when given) that repeat the apps' own
routes."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest.mock import MagicMock

import helm_python as helm
import pytest
import yaml

from services.contracts.names import PUBSUB, STATESTORE, AppId
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.workflow_io import SagaConfig
from tests.chart.rendering import APP_IDS, REPO, Manifest, Render, env_of, render

DAPR_YAML = yaml.safe_load((REPO / "dapr.yaml").read_text())
DAPR_APPS = {app["appID"]: app for app in DAPR_YAML["apps"]}


def _default_port(app_id: str) -> int:
    """The callback port an app listens on when APP_PORT is unset, from its own code."""
    if app_id == AppId.ORCHESTRATOR:
        return OrchestratorSettings().app_port
    tree = ast.parse((REPO / "services" / app_id / "__main__.py").read_text())
    ports = [
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "default_port" and isinstance(keyword.value, ast.Constant)
    ]
    assert len(ports) == 1, f"services/{app_id}/__main__.py: no single serve(default_port=...)"
    port = ports[0]
    assert isinstance(port, int)
    return port


def _pod(render: Render, app_id: str) -> tuple[dict[str, str], Manifest]:
    template = render.deployment(app_id)["spec"]["template"]
    [container] = template["spec"]["containers"]
    return template["metadata"]["annotations"], container


def test_the_chart_runs_the_apps_of_dapr_yaml() -> None:
    assert set(DAPR_APPS) == set(APP_IDS) == {str(app) for app in AppId}


@pytest.mark.parametrize("app_id", APP_IDS)
def test_dapr_app_id_port_and_protocol_match_dapr_yaml_and_the_app(
    each_render: Render, app_id: str
) -> None:
    annotations, container = _pod(each_render, app_id)
    dapr_app = DAPR_APPS[app_id]
    protocol = dapr_app.get("appProtocol", DAPR_YAML["common"]["appProtocol"])
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == app_id
    assert annotations["dapr.io/app-port"] == str(dapr_app["appPort"]) == str(_default_port(app_id))
    assert annotations["dapr.io/app-protocol"] == protocol == "grpc"
    env = env_of(container)
    assert env["APP_PORT"]["value"] == annotations["dapr.io/app-port"]
    assert env["APP_ID"]["value"] == app_id


def test_sidecar_annotations(each_render: Render) -> None:
    for app_id in APP_IDS:
        annotations, _ = _pod(each_render, app_id)
        assert annotations["dapr.io/sidecar-seccomp-profile-type"] == "RuntimeDefault"
        for name in ("cpu-request", "cpu-limit", "memory-request", "memory-limit"):
            assert annotations[f"dapr.io/sidecar-{name}"]
    operator = each_render.deployment("operator")["spec"]["template"]["metadata"]
    assert "dapr.io/enabled" not in operator.get("annotations", {})


def test_the_management_api_matches_dapr_yaml_and_the_settings(each_render: Render) -> None:
    _, container = _pod(each_render, "orchestrator")
    env = env_of(container)
    assert env["API_PORT"]["value"] == DAPR_APPS["orchestrator"]["env"]["API_PORT"]
    assert int(env["API_PORT"]["value"]) == OrchestratorSettings().api_port
    assert env["API_HOST"]["value"] == "0.0.0.0"
    assert container["ports"] == [{"name": "http-api", "containerPort": 8080, "protocol": "TCP"}]
    [operator] = each_render.deployment("operator")["spec"]["template"]["spec"]["containers"]
    url = env_of(operator)["ORCHESTRATOR_URL"]["value"]
    assert url == (f"http://{each_render.name_of('orchestrator')}.{each_render.namespace}.svc:8080")


def test_the_orchestrator_gets_the_run_retention_it_reads(chart: helm.Chart) -> None:
    values = {"orchestrator": {"runRetention": {"keep": "36h", "interval": "90s"}}}
    rendered = render(chart, values, name="retention", release="r", namespace="r")
    _, container = _pod(rendered, "orchestrator")
    env = {name: value["value"] for name, value in env_of(container).items() if "value" in value}
    settings = OrchestratorSettings.from_env(env)
    assert settings.run_retention == timedelta(hours=36)
    assert settings.run_retention_interval == timedelta(seconds=90)


def test_the_images_run_the_entry_points_of_dapr_yaml() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    entry_points = dict(
        re.findall(r"^FROM runtime AS (\w+)\n(?:.*\n)*?ENTRYPOINT (\[.*\])$", dockerfile, re.M)
    )
    assert set(entry_points) == {*APP_IDS, "operator"}
    for app_id in APP_IDS:
        command = DAPR_APPS[app_id]["command"]
        module = command[command.index("-m") + 1]
        assert yaml.safe_load(entry_points[app_id]) == ["python", "-m", module]
    assert yaml.safe_load(entry_points["operator"]) == ["python", "-m", "workflowrun_operator"]


def test_components_carry_the_names_the_apps_use(each_render: Render) -> None:
    names = {component["metadata"]["name"] for component in each_render.of_kind("Component")}
    assert names <= {PUBSUB, STATESTORE}
    if each_render.name != "components-off":
        assert names == {PUBSUB, STATESTORE}


# -- declarative subscriptions against the apps' own ------------------------------------


def _build_orchestrator() -> Any:
    from services.orchestrator.subscriptions import OrchestratorSubscriptions, build_app

    return build_app(OrchestratorSubscriptions(MagicMock(), MagicMock(), SagaConfig()))


def _build_inventory() -> Any:
    from services.inventory.app import build_app

    return build_app(MagicMock())


def _build_payment() -> Any:
    from services.payment.app import build_app

    return build_app(MagicMock(), 500_000, MagicMock())


def _build_shipping() -> Any:
    from services.shipping.app import build_app

    return build_app(MagicMock(), frozenset({"US"}))


APP_BUILDERS: dict[str, Callable[[], Any]] = {
    "orchestrator": _build_orchestrator,
    "inventory": _build_inventory,
    "payment": _build_payment,
    "shipping": _build_shipping,
}


def _programmatic_subscriptions(app_id: str) -> dict[str, dict[str, Any]]:
    """topic -> {default, rules, deadLetterTopic} as the app's callback server lists them to
    its sidecar (ListTopicSubscriptions)."""
    app = APP_BUILDERS[app_id]()
    listed = app._servicer.ListTopicSubscriptions(None, None)
    return {
        sub.topic: {
            "pubsubname": sub.pubsub_name,
            "default": sub.routes.default,
            "rules": [{"match": rule.match, "path": rule.path} for rule in sub.routes.rules],
            "deadLetterTopic": sub.dead_letter_topic,
        }
        for sub in listed.subscriptions
    }


def _declared(subscription: Manifest) -> dict[str, Any]:
    spec = subscription["spec"]
    return {
        "pubsubname": spec["pubsubname"],
        "default": spec["routes"].get("default", ""),
        "rules": spec["routes"].get("rules", []),
        "deadLetterTopic": spec.get("deadLetterTopic", ""),
    }


def test_declarative_subscriptions_repeat_the_handlers_routes(each_render: Render) -> None:
    """A Subscription's route must name the handler the SDK registered (`pubsub:topic:path`,
    path = the handler's function name), or its messages reach no handler."""
    for subscription in each_render.of_kind("Subscription"):
        topic = subscription["spec"]["topic"]
        for app_id in subscription["scopes"]:
            own = _programmatic_subscriptions(app_id)
            assert topic in own, f"{app_id} has no handler for {topic}"
            assert _declared(subscription) == own[topic], (app_id, topic)


@pytest.mark.parametrize("app_id", APP_IDS)
def test_every_app_serves_its_callbacks_over_grpc(app_id: str) -> None:
    """app-protocol grpc: each app's callback server is a dapr.ext.grpc.App."""
    from dapr.ext.grpc import App

    assert isinstance(APP_BUILDERS[app_id](), App)


def test_the_declarative_subscriptions_example_is_exercised(renders: dict[str, Render]) -> None:
    assert renders["declarative-subscriptions"].of_kind("Subscription")
