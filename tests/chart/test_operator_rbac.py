"""The operator's RBAC in the chart is operator/rbac.yaml's, verb for verb, and those verbs are
exactly the ones the operator's code calls.

What the code calls is read from its source: every kopf handler on WorkflowRuns makes kopf
list and watch them and patch them (finalizer, progress annotations); the CRD's status
subresource receives the mirrored state (patch on workflowruns/status); kopf posts Events
(create); and `kube_api` makes the calls kopf does not (`api.delete` -> delete). The operator's
own tests (tests/operator) check the same rules against a run of the operator.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import yaml

from tests.chart.rendering import CHART, DEFAULT, REPO, Manifest, Render

OPERATOR = REPO / "operator" / "workflowrun_operator"
CRD = yaml.safe_load((REPO / "operator" / "crd" / "workflowruns.yaml").read_text())

Grants = dict[tuple[str, str], frozenset[str]]

# kopf's REST helpers (kopf._cogs.clients.api) and the RBAC verb each one needs.
KOPF_API_VERBS = {
    "get": "get",
    "post": "create",
    "patch": "patch",
    "put": "update",
    "delete": "delete",
}
# kopf decorators that register a handler on a resource, hence watch it and patch it.
RESOURCE_DECORATORS = {"create", "update", "delete", "resume", "field", "event", "timer", "daemon"}


def _grants(rules: Iterable[Manifest]) -> Grants:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return {key: frozenset(verbs) for key, verbs in grants.items()}


def _source_rbac() -> Grants:
    [role] = [
        doc
        for doc in yaml.safe_load_all((REPO / "operator" / "rbac.yaml").read_text())
        if doc and doc["kind"] in {"ClusterRole", "Role"}
    ]
    return _grants(role["rules"])


def _decorator_name(node: ast.expr) -> str | None:
    """`kopf.on.create(...)` -> "create", `kopf.timer(...)` -> "timer"."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute) and ast.unparse(target).startswith("kopf."):
        return target.attr
    return None


def _handled_resources(tree: ast.Module) -> set[str]:
    """Plurals of the resources kopf handlers are registered on:
    `kopf.on.x(GROUP, VERSION, PLURAL)` -> "PLURAL"."""
    plurals: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and _decorator_name(decorator) in RESOURCE_DECORATORS
                    and len(decorator.args) >= 3
                ):
                    plurals.add(ast.unparse(decorator.args[2]))
    return plurals


def _kopf_api_calls(tree: ast.Module) -> set[str]:
    """RBAC verbs of the direct kopf API calls (`api.delete(...)`)."""
    return {
        KOPF_API_VERBS[node.func.attr]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "api"
        and node.func.attr in KOPF_API_VERBS
    }


def _code_needs() -> Grants:
    from workflowrun_operator.crd import GROUP, PLURAL

    sources = {path: ast.parse(path.read_text()) for path in sorted(Path(OPERATOR).glob("*.py"))}
    handled = set().union(*(_handled_resources(tree) for tree in sources.values()))
    # The handlers name the resource by crd.py's constant, or spell it out.
    resources = {PLURAL if name == "PLURAL" else name.strip("'\"") for name in handled}
    assert resources == {PLURAL}, f"handlers on unexpected resources: {handled}"
    needs: dict[tuple[str, str], set[str]] = {(GROUP, PLURAL): {"list", "watch", "patch"}}
    needs[(GROUP, PLURAL)] |= _kopf_api_calls(sources[OPERATOR / "kube_api.py"])
    [version] = CRD["spec"]["versions"]
    if "status" in version.get("subresources", {}):
        needs[(GROUP, f"{PLURAL}/status")] = {"patch"}
    everything = "\n".join(path.read_text() for path in sources)
    # kopf posts Events unless told not to (settings.posting.enabled = False).
    if "posting.enabled = False" not in everything:
        needs[("", "events")] = {"create"}
    return {key: frozenset(verbs) for key, verbs in needs.items()}


def _chart_grants(render: Render, kind: str) -> list[Grants]:
    return [_grants(role["rules"]) for role in render.of_kind(kind)]


def test_the_chart_grants_the_rules_of_operator_rbac_yaml(renders: dict[str, Render]) -> None:
    source = _source_rbac()
    default = renders[DEFAULT]
    assert _chart_grants(default, "Role") == [source]
    assert default.of_kind("ClusterRole") == []
    everywhere = renders["operator-all-namespaces"]
    assert _chart_grants(everywhere, "ClusterRole") == [source]
    assert everywhere.of_kind("Role") == []


def test_the_rules_are_exactly_the_verbs_the_operator_calls() -> None:
    assert _source_rbac() == _code_needs()


def test_the_operator_is_bound_to_its_own_service_account(renders: dict[str, Render]) -> None:
    for render, binding_kind in (
        (renders[DEFAULT], "RoleBinding"),
        (renders["operator-all-namespaces"], "ClusterRoleBinding"),
    ):
        [binding] = render.of_kind(binding_kind)
        account = render.name_of("operator")
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": render.namespace}
        ]
        spec = render.deployment("operator")["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == account


def test_the_operator_watches_the_namespaces_it_is_granted(renders: dict[str, Render]) -> None:
    default = renders[DEFAULT]
    [container] = default.deployment("operator")["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["WATCH_NAMESPACES"] == default.namespace
    [role] = default.of_kind("Role")
    assert role["metadata"]["namespace"] == default.namespace
    everywhere = renders["operator-all-namespaces"]
    [container] = everywhere.deployment("operator")["spec"]["template"]["spec"]["containers"]
    assert "WATCH_NAMESPACES" not in {item["name"] for item in container["env"]}


def test_no_other_component_gets_any_permission(renders: dict[str, Render]) -> None:
    for render in renders.values():
        for kind in ("RoleBinding", "ClusterRoleBinding"):
            for binding in render.of_kind(kind):
                assert [s["name"] for s in binding["subjects"]] == [render.name_of("operator")]


def test_rbac_comment_names_the_source_of_the_rules() -> None:
    assert "operator/rbac.yaml" in (CHART / "templates" / "operator" / "rbac.yaml").read_text()
