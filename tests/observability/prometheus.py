"""Real Prometheus for the tests: Debian's `prometheus` and `promtool` (installed by
the Makefile's `system-packages`), a server scraping given targets, and the chart's
rules and dashboard as the files promtool reads.

The chart is the one source of the alerts and the dashboard: the rules are rendered by
Helm (with `monitoring.coreos.com/v1` available, as in a cluster with the Prometheus
Operator) and the PrometheusRule's `spec` is written out as a rule file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import pytest
import yaml

from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ManagedProcess
from tests.chart.rendering import CHART, MONITORING_API, render

HERE = Path(__file__).resolve().parent
# The namespace the rules are rendered for; `alerts.test.yaml` uses the same.
NAMESPACE = "saga"
INSTALL_HINT = "make system-packages installs Debian's prometheus package"


def tool(name: str) -> str:
    """The path of `prometheus` or `promtool`; skips the test when missing, except on CI,
    where `make test` installed it and a missing tool is a failure."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: {INSTALL_HINT}")
        pytest.skip(f"{name} is not installed: {INSTALL_HINT}")
    return found


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# --- the chart's rules and dashboard ---------------------------------------------------


def rendered_rule_groups(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chart's PrometheusRule `spec` (a Prometheus rule file: `{groups: [...]}`)."""
    with helm.Chart.load(CHART) as chart:
        rendered = render(
            chart,
            values or {},
            name="rules",
            release=NAMESPACE,
            namespace=NAMESPACE,
            api_versions=(MONITORING_API,),
        )
    [rule] = rendered.of_kind("PrometheusRule")
    spec: dict[str, Any] = rule["spec"]
    return spec


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CHART / "dashboards" / "saga-platform.json").read_text())
    return document


# Grafana's built-in interval variables, and the dashboard's own variables (inside label
# matchers), replaced by values PromQL accepts so that each query can be parsed.
_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)\b")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_]\w*\}?")


def as_promql(expr: str) -> str:
    return _VARIABLE.sub(".*", _INTERVALS.sub("5m", expr))


def dashboard_queries(document: dict[str, Any]) -> dict[str, str]:
    """Every panel target's query, by a recording-rule name naming the panel and target."""
    panels = [*document["panels"]]
    for row in document["panels"]:
        panels.extend(row.get("panels", []))
    return {
        f"dashboard:panel_{panel['id']}_{target['refId']}": target["expr"]
        for panel in panels
        for target in panel.get("targets", [])
    }


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# --- a Prometheus server ---------------------------------------------------------------


@dataclass
class PrometheusServer:
    """`prometheus` scraping `targets` every `scrape_interval`, its data under `root`. The
    scraped series get `namespace` (as a PodMonitor would add it)."""

    root: Path
    targets: list[str]
    scrape_interval: str = "1s"
    process: ManagedProcess | None = None

    def __post_init__(self) -> None:
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        self.root.mkdir(parents=True, exist_ok=True)
        config = write_yaml(
            self.root / "prometheus.yml",
            {
                "global": {
                    "scrape_interval": self.scrape_interval,
                    "evaluation_interval": self.scrape_interval,
                },
                "scrape_configs": [
                    {
                        "job_name": "saga-platform",
                        "static_configs": [
                            {"targets": self.targets, "labels": {"namespace": NAMESPACE}}
                        ],
                    }
                ],
            },
        )
        self.process = ManagedProcess(
            "prometheus",
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            self.root / "prometheus.log",
            ready=self._ready,
        ).start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """`/api/v1/query` now: the result vector."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values_by(self, expr: str, label: str) -> dict[str, float]:
        return {item["metric"].get(label, ""): float(item["value"][1]) for item in self.query(expr)}

    def wait_targets_up(self, timeout: float = 60.0) -> None:
        def every_target_up() -> bool:
            up = self.query("up")
            return len(up) == len(self.targets) and all(item["value"][1] == "1" for item in up)

        wait_until(every_target_up, timeout=timeout, interval=0.2, what="every target up")
