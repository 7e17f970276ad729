"""The chart renders with the real Helm engine for the default values and every ci/ values
file, lints clean, and its values schema refuses what it does not know."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.chart.rendering import (
    APP_IDS,
    CHART,
    COMPONENTS,
    DEFAULT,
    RENDER_NAMES,
    REPO,
    Manifest,
    Render,
    render,
    values_of,
)

REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)
# The only finding Helm's linter may report: an informational one about a chart icon.
ACCEPTED_LINT_INFO = {"icon is recommended"}


def test_chart_metadata_targets_kubernetes_1_30_and_up() -> None:
    metadata = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert metadata["apiVersion"] == "v2"
    assert metadata["kubeVersion"] == ">=1.30.0-0"
    assert metadata["appVersion"]


def test_the_ci_matrix_covers_the_required_variants() -> None:
    assert {"kafka-pubsub", "networkpolicies", "replicas-3", "digests", "components-off"} <= set(
        RENDER_NAMES
    )


def test_every_object_carries_the_recommended_labels(each_render: Render) -> None:
    assert each_render.objects
    for obj in each_render.objects:
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in REQUIRED_LABELS if label not in labels]
        assert not missing, f"{obj['kind']} {obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/part-of"] == "saga-platform"
        assert len(obj["metadata"]["name"]) <= 63


def test_every_namespaced_object_names_the_release_namespace(each_render: Render) -> None:
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    for obj in each_render.objects:
        if obj["kind"] not in cluster_scoped and obj["kind"] not in {"Role", "RoleBinding"}:
            assert obj["metadata"]["namespace"] == each_render.namespace, obj["metadata"]


def test_the_five_workloads_and_the_api_service_are_rendered(each_render: Render) -> None:
    for component in COMPONENTS:
        deployment = each_render.deployment(component)
        pod = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items()
        )
        account = pod["spec"]["serviceAccountName"]
        assert account == each_render.name_of(component)
        each_render.one("ServiceAccount", account)
    service = each_render.one("Service", each_render.name_of("orchestrator"))
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http-api", 8080, "http-api")
    ]


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_helm_lint_is_clean(name: str) -> None:
    report = helm.lint(
        CHART, values_of(name), strict=True, kube_version="v1.30.0", namespace="saga"
    )
    assert report["errors"] == []
    findings = [
        message
        for message in report["messages"]
        if message["severity"] >= 2 or message["error"] not in ACCEPTED_LINT_INFO
    ]
    assert findings == []


@pytest.mark.parametrize(
    ("values", "bad_key"),
    [
        ({"orchestrator": {"replicas": 3}}, "replicas"),
        ({"networkPolicies": {"enabled": True}}, "networkPolicies"),
        ({"components": {"pubsub": {"redis": {"hostname": "redis:6379"}}}}, "hostname"),
        ({"dapr": {"sidecar": {"resources": {"limits": {"cpus": "1"}}}}}, "cpus"),
        ({"inventory": {"image": {"digests": "sha256:0"}}}, "digests"),
        ({"operator": {"watchNamespace": ["a"]}}, "watchNamespace"),
    ],
)
def test_values_schema_rejects_a_misspelt_key(
    chart: helm.Chart, values: dict[str, Any], bad_key: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=f"additional properties '{bad_key}'"):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError, match=bad_key):
        chart.render(values=values, name="saga", namespace="saga")


@pytest.mark.parametrize(
    "values",
    [
        {"components": {"pubsub": {"type": "nats"}}},
        {"components": {"pubsub": {"kafka": {"authType": "password"}}}},  # no user, no secret
        {"orchestrator": {"image": {"digest": "sha256:abc"}}},
        {"orchestrator": {"replicaCount": 0}},
        {"orchestrator": {"appPort": 70000}},
        {"inventory": {"seed": {"sku-lower": 1}}},
        {"shipping": {"countries": "us,ca"}},
        {"components": {"resiliency": {"apps": {"timeout": "ten seconds"}}}},
        {
            "components": {
                "subscriptions": [
                    {"name": "x", "topic": "t", "scopes": ["billing"], "routes": {"default": "t"}}
                ]
            }
        },
    ],
)
def test_values_schema_rejects_invalid_values(chart: helm.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)


# Subschemas that only add constraints to an object described elsewhere (if/then: Kafka's
# password auth needs a user and a secret), not objects of their own.
CONSTRAINT_KEYWORDS = {"if", "then", "else", "not"}


def _open_objects(schema: Any, path: str = "$") -> list[str]:
    """Paths of object schemas that declare properties but accept undeclared ones."""
    found: list[str] = []
    if isinstance(schema, dict):
        if "properties" in schema and schema.get("additionalProperties") is not False:
            found.append(path)
        for key, value in schema.items():
            if key not in CONSTRAINT_KEYWORDS:
                found += _open_objects(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _open_objects(value, f"{path}[{index}]")
    return found


def test_values_schema_closes_every_object_it_describes() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert _open_objects(schema) == []


def test_default_values_satisfy_the_schema(chart: helm.Chart) -> None:
    chart.validate_schema({})
    chart.validate_schema(yaml.safe_load((CHART / "values.yaml").read_text()))


def test_the_crd_is_the_operators_own() -> None:
    chart_crd = CHART / "crds" / "workflowruns.yaml"
    operator_crd = REPO / "operator" / "crd" / "workflowruns.yaml"
    assert chart_crd.read_bytes() == operator_crd.read_bytes(), (
        "charts/saga-platform/crds/workflowruns.yaml must be a copy of "
        "operator/crd/workflowruns.yaml"
    )


def test_the_chart_ships_the_crd(renders: dict[str, Render]) -> None:
    [crd] = renders[DEFAULT].crds
    assert crd["metadata"]["name"] == "workflowruns.saga.dapr.io"


def test_notes_state_the_dapr_prerequisite(each_render: Render) -> None:
    notes = each_render.notes
    for fact in ("Dapr >= 1.15", "placement", "scheduler", "dapr init -k"):
        assert fact in notes


def test_pod_disruption_budgets_exist_only_above_one_replica(renders: dict[str, Render]) -> None:
    assert renders[DEFAULT].of_kind("PodDisruptionBudget") == []
    three = renders["replicas-3"]
    budgets = {pdb["metadata"]["name"]: pdb for pdb in three.of_kind("PodDisruptionBudget")}
    assert set(budgets) == {three.name_of(app) for app in APP_IDS}
    for app in APP_IDS:
        assert three.deployment(app)["spec"]["replicas"] == 3
        selector = budgets[three.name_of(app)]["spec"]["selector"]["matchLabels"]
        assert selector == three.deployment(app)["spec"]["selector"]["matchLabels"]


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = policy["spec"]["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


def test_network_policies_are_optional_and_then_cover_every_pod(
    renders: dict[str, Render],
) -> None:
    assert renders[DEFAULT].of_kind("NetworkPolicy") == []
    on = renders["networkpolicies"]
    policies = on.of_kind("NetworkPolicy")
    for owner, metadata, _ in on.pod_specs():
        assert any(_selects(policy, metadata["labels"]) for policy in policies), owner
    api = on.one("NetworkPolicy", on.name_of("orchestrator"))
    api_rule = next(
        rule
        for rule in api["spec"]["ingress"]
        if rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    )
    operator_labels = on.deployment("operator")["spec"]["template"]["metadata"]["labels"]
    assert any(
        "podSelector" in peer
        and peer["podSelector"]["matchLabels"].items() <= operator_labels.items()
        for peer in api_rule["from"]
    )
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in (api_rule["from"])


def test_images_default_to_the_app_version_and_take_a_digest(
    renders: dict[str, Render], chart: helm.Chart
) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    default = renders[DEFAULT]
    for component in COMPONENTS:
        [container] = default.deployment(component)["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"saga-platform/{component}:{app_version}"
    pinned = renders["digests"]
    for owner, _, spec in pinned.pod_specs():
        for container in spec["containers"]:
            assert "@sha256:" in container["image"], owner


def test_an_empty_skaffold_digest_is_ignored(chart: helm.Chart) -> None:
    """skaffold sets tag "<tag>@<digest>" and leaves the digest empty for kind-loaded images."""
    rendered = render(
        chart,
        {"payment": {"image": {"repository": "payment", "tag": "abc123@"}}},
        name="skaffold",
        release="saga",
        namespace="saga",
    )
    [container] = rendered.deployment("payment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "payment:abc123"
    digest = "sha256:" + "a" * 64
    rendered = render(
        chart,
        {"payment": {"image": {"repository": "payment", "tag": f"abc123@{digest}"}}},
        name="skaffold",
        release="saga",
        namespace="saga",
    )
    [container] = rendered.deployment("payment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"payment:abc123@{digest}"


SECRET_WORDS = ("password", "token", "secret", "credential")


def test_secrets_are_only_referenced_never_inline(each_render: Render) -> None:
    assert each_render.of_kind("Secret") == []
    for component in each_render.of_kind("Component"):
        for item in component["spec"].get("metadata", []):
            if any(word in item["name"].lower() for word in SECRET_WORDS):
                assert "value" not in item, item["name"]
                assert "secretKeyRef" in item, item["name"]
        assert component["auth"]["secretStore"] == "kubernetes"
    for owner, _, spec in each_render.pod_specs():
        for container in spec["containers"]:
            for env in container.get("env", []):
                if any(word in env["name"].lower() for word in SECRET_WORDS):
                    assert "secretKeyRef" in env.get("valueFrom", {}), (owner, env["name"])


def test_tokens_and_passwords_come_from_the_named_secrets(renders: dict[str, Render]) -> None:
    pinned = renders["digests"]
    [api] = pinned.deployment("orchestrator")["spec"]["template"]["spec"]["containers"]
    api_env = {e["name"]: e.get("value") for e in api["env"]}
    assert api_env["AUTH_JWKS_URL"] == (
        "https://idp.example/realms/saga/protocol/openid-connect/certs"
    )
    assert api_env["AUTH_ISSUER"] == "https://idp.example/realms/saga"
    assert api_env["AUTH_ROLES_CLAIM"] == "realm_access.roles"
    [operator] = pinned.deployment("operator")["spec"]["template"]["spec"]["containers"]
    client = {e["name"]: e for e in operator["env"]}
    assert client["ORCHESTRATOR_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "workflowrun-operator-client",
        "key": "clientSecret",
    }
    assert client["ORCHESTRATOR_AUTH_URL"]["value"].endswith("/openid-connect/token")
    for app in APP_IDS:
        annotations = pinned.deployment(app)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/api-token-secret"] == "dapr-api-token"
    redis = {"name": "redis", "key": "redis-password"}
    for name in ("pubsub", "statestore"):
        metadata = {m["name"]: m for m in pinned.one("Component", name)["spec"]["metadata"]}
        assert metadata["redisPassword"]["secretKeyRef"] == redis


def test_kafka_is_the_documented_alternative_pubsub(renders: dict[str, Render]) -> None:
    assert renders[DEFAULT].one("Component", "pubsub")["spec"]["type"] == "pubsub.redis"
    kafka = renders["kafka-pubsub"].one("Component", "pubsub")
    assert kafka["spec"]["type"] == "pubsub.kafka"
    metadata = {m["name"]: m for m in kafka["spec"]["metadata"]}
    assert metadata["authType"]["value"] == "password"
    assert metadata["saslPassword"]["secretKeyRef"] == {
        "name": "kafka-credentials",
        "key": "password",
    }
    assert metadata["brokers"]["value"].count(":9092") == 2


def test_the_state_store_holds_actor_state_with_the_services_own_keys(
    renders: dict[str, Render],
) -> None:
    store = renders[DEFAULT].one("Component", "statestore")
    metadata = {m["name"]: m.get("value") for m in store["spec"]["metadata"]}
    assert store["spec"]["type"] == "state.redis"
    assert metadata["actorStateStore"] == "true"
    assert metadata["keyPrefix"] == "none"
    local = yaml.safe_load((REPO / "components" / "statestore.yaml").read_text())
    assert {m["name"]: m["value"] for m in local["spec"]["metadata"]}["keyPrefix"] == "none"
    for component in renders[DEFAULT].of_kind("Component"):
        assert component["scopes"] == list(APP_IDS)


def test_resiliency_covers_the_apps_and_pubsub_inbound(renders: dict[str, Render]) -> None:
    [resiliency] = renders[DEFAULT].of_kind("Resiliency")
    policies, targets = resiliency["spec"]["policies"], resiliency["spec"]["targets"]
    for app in APP_IDS:
        target = targets["apps"][app]
        assert set(target) == {"timeout", "retry", "circuitBreaker"}
        assert target["circuitBreaker"] in policies["circuitBreakers"]
    inbound = targets["components"]["pubsub"]["inbound"]
    assert inbound["timeout"] in policies["timeouts"]
    assert inbound["retry"] in policies["retries"]
    # daprd dead-letters every message while an inbound breaker is open (values.yaml).
    assert "circuitBreaker" not in inbound


def test_the_configuration_exports_traces_over_otlp(renders: dict[str, Render]) -> None:
    default = renders[DEFAULT]
    [configuration] = default.of_kind("Configuration")
    otel = configuration["spec"]["tracing"]["otel"]
    assert otel["endpointAddress"].endswith(":4317")
    assert otel["protocol"] == "grpc"
    for app in APP_IDS:
        annotations = default.deployment(app)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/config"] == configuration["metadata"]["name"]


def test_without_components_the_chart_installs_no_dapr_resource(renders: dict[str, Render]) -> None:
    off = renders["components-off"]
    assert [obj for obj in off.objects if obj["apiVersion"].startswith("dapr.io/")] == []
    for app in APP_IDS:
        annotations = off.deployment(app)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/config"] == "platform-tracing"
    assert 'a Dapr component named\n"pubsub"' in off.notes


def test_no_declarative_subscription_by_default(renders: dict[str, Render]) -> None:
    assert renders[DEFAULT].of_kind("Subscription") == []


def test_the_test_hook_curls_the_api_healthz(renders: dict[str, Render]) -> None:
    default = renders[DEFAULT]
    [pod] = default.of_kind("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["curl"]
    url = container["args"][-1]
    assert url == f"http://{default.name_of('orchestrator')}.{default.namespace}.svc:8080/healthz"


def test_values_yaml_documents_its_sections() -> None:
    """Each top-level key of values.yaml has a comment right above it."""
    lines = Path(CHART / "values.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith((" ", "#")):
            assert lines[index - 1].startswith("#"), f"values.yaml: {line!r} is undocumented"
