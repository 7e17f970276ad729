"""The chart's alerts, checked by promtool: the rendered PrometheusRule is a valid rule
file, and `alerts.test.yaml` unit-tests every alert (fires on its cause, quiet on near
misses). A new alert without a test there fails `test_every_alert_has_a_unit_test`."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.observability.prometheus import HERE, promtool, rendered_rule_groups, write_yaml

UNIT_TESTS = HERE / "alerts.test.yaml"


def _rules(folder: Path) -> Path:
    return write_yaml(folder / "rules.yaml", rendered_rule_groups())


def test_promtool_checks_the_rendered_rules(tmp_path: Path) -> None:
    checked = promtool("check", "rules", str(_rules(tmp_path)))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check is real: an expression that does not parse fails it."""
    groups = rendered_rule_groups()
    groups["groups"][0]["rules"][0]["expr"] = "sum by (namespace (saga_finished_total)"
    checked = promtool("check", "rules", str(write_yaml(tmp_path / "rules.yaml", groups)))
    assert checked.returncode != 0


def test_promtool_unit_tests_of_every_alert_pass(tmp_path: Path) -> None:
    _rules(tmp_path)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    tested = promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test() -> None:
    alerts = {r["alert"] for g in rendered_rule_groups()["groups"] for r in g["rules"]}
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    firing = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check["exp_alerts"]
    }
    assert tested == firing == alerts
