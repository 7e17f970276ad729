"""`--runtime daprd`: the runner starts daprd with the command line `dapr run -f` builds, and
the project's two run files run the same apps, each with its runtime's resources."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from sidecar.runner.daprd import Daprd
from sidecar.runner.plan import build
from sidecar.runner.template import TemplateError, load, parse
from testkit.process import ROOT

DAPRD = "/opt/dapr/daprd"


def plan_daprd(project: Path, app: dict[str, Any], common: dict[str, Any]) -> tuple[str, ...]:
    template = parse({"version": 1, "common": common, "apps": [app]}, project)
    ports = itertools.count(42000)
    [launch] = build(
        template,
        data_dir=project / ".data",
        environ={"PATH": "/bin"},
        allocate_port=lambda: next(ports),
        daprd=Daprd(DAPRD),
    )
    assert launch.runtime == "daprd"
    assert launch.app_env["APP_PROTOCOL"] == app.get("appProtocol", "http")
    return launch.sidecar_argv


def test_daprd_gets_the_dapr_clis_flags_in_its_order(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "components").mkdir()
    (tmp_path / "config.yaml").write_text("kind: Configuration\n")
    argv = plan_daprd(
        tmp_path,
        {"appID": "orders", "appDirPath": "orders", "appPort": 6001, "appProtocol": "grpc"},
        {
            "resourcesPath": "components",
            "configFilePath": "config.yaml",
            "logLevel": "debug",
            "placementHostAddress": "127.0.0.1",
            "schedulerHostAddress": "127.0.0.1:7000",
        },
    )

    assert argv == (
        DAPRD,
        *("--config", str(tmp_path / "config.yaml")),
        *("--app-protocol", "grpc", "--log-level", "debug", "--app-max-concurrency", "-1"),
        *("--placement-host-address", "127.0.0.1:50005"),
        *("--resources-path", str(tmp_path / "components")),
        *("--max-body-size", "4Mi", "--read-buffer-size", "4Ki"),
        *("--scheduler-host-address", "127.0.0.1:7000"),
        *("--app-id", "orders", "--app-port", "6001"),
        *("--dapr-http-port", "42001", "--dapr-grpc-port", "42000", "--profile-port", "-1"),
        *("--metrics-port", "42002", "--dapr-internal-grpc-port", "42003"),
    )


def test_without_settings_daprd_gets_the_dapr_clis_defaults(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    argv = plan_daprd(tmp_path, {"appID": "orders", "appDirPath": "orders"}, {})

    flags = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert flags["--app-protocol"] == "http"
    assert flags["--placement-host-address"] == "localhost:50005"
    assert "--scheduler-host-address" not in flags
    assert "--config" not in flags
    assert "--app-port" not in flags


def test_a_missing_config_file_is_named_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    with pytest.raises(TemplateError, match=r"common\.configFilePath: no such file"):
        plan_daprd(
            tmp_path, {"appID": "orders", "appDirPath": "orders"}, {"configFilePath": "nope.yaml"}
        )


def test_daprd_honours_the_fields_the_embedded_sidecar_ignores(tmp_path: Path) -> None:
    template = parse(
        {
            "version": 1,
            "common": {"placementHostAddress": "p", "appHealthCheckPath": "/h"},
            "apps": [{"appDirPath": ".", "configFilePath": "c.yaml"}],
        },
        tmp_path,
    )

    assert {w.split()[1] for w in template.warnings} == {
        "placementHostAddress",
        "appHealthCheckPath",
        "configFilePath",
    }
    assert {w.split()[1] for w in template.warnings_for("daprd")} == {"appHealthCheckPath"}


def test_the_two_run_files_run_the_same_apps_each_on_its_runtimes_resources() -> None:
    embedded, daprd = load(ROOT / "dapr.yaml"), load(ROOT / "dapr.daprd.yaml")

    def apps(template: Any) -> list[tuple[Any, ...]]:
        return [
            (app.app_id, app.app_dir, app.command, app.env, app.app_port, app.app_protocol)
            for app in template.apps
        ]

    assert apps(embedded) == apps(daprd)
    assert [r.path for r in embedded.common_resources] == [ROOT / "components"]
    assert [r.path for r in daprd.common_resources] == [ROOT / "components-daprd"]
    assert embedded.warnings == ()
    assert daprd.warnings_for("daprd") == ()
