"""The Grafana dashboard the chart ships: its JSON has a Grafana dashboard's structure
(`grafana-dashboard.schema.json`: the fields Grafana needs to import and lay it out), and
every query in it parses as PromQL (promtool checks each as a recording rule; Prometheus
2.42 has no parse-only API)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.observability.prometheus import (
    HERE,
    as_promql,
    dashboard,
    dashboard_queries,
    promtool,
    write_yaml,
)

SCHEMA = json.loads((HERE / "grafana-dashboard.schema.json").read_text())


def test_the_dashboard_has_grafanas_structure() -> None:
    document = dashboard()
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in document["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']} is wider than the grid"
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), f"panel {panel['title']}: refIds repeat"


def test_the_structure_check_refuses_a_broken_dashboard() -> None:
    broken = dashboard()
    del broken["panels"][1]["gridPos"]
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(broken))
    assert errors


def test_every_query_uses_the_namespace_variable() -> None:
    """So that one Grafana shows each release of the platform on its own."""
    for name, expr in dashboard_queries(dashboard()).items():
        assert 'namespace=~"$namespace"' in expr, name


def test_every_query_parses(tmp_path: Path) -> None:
    queries = dashboard_queries(dashboard())
    assert len(queries) >= 15
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": name, "expr": as_promql(e)} for name, e in queries.items()],
            }
        ]
    }
    checked = promtool("check", "rules", str(write_yaml(tmp_path / "queries.yaml", rules)))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout
