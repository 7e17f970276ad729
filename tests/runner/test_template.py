"""The run template parser: Dapr CLI semantics, and errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.runner.template import Template, TemplateError, loads, parse

BASE = Path("/work/project")


def app(**fields: Any) -> dict[str, Any]:
    return {"appDirPath": "./orders", **fields}


def template(*apps: dict[str, Any], **top: Any) -> Template:
    return parse({"version": 1, "apps": list(apps), **top}, BASE)


def error_of(data: object) -> str:
    with pytest.raises(TemplateError) as caught:
        parse(data, BASE)
    return str(caught.value)


def test_minimal_app_defaults_its_id_to_its_folder_name() -> None:
    (spec,) = template(app(command=["python", "app.py"])).apps
    assert spec.app_id == "orders"
    assert spec.app_dir == BASE / "orders"
    assert spec.command == ("python", "app.py")
    assert spec.app_port is None
    assert spec.app_protocol is None
    assert spec.dapr_grpc_port is None
    assert spec.env == {}


def test_all_honoured_fields_are_read() -> None:
    (spec,) = template(
        app(
            appID="orders-api",
            appPort=6001,
            appProtocol="grpc",
            daprGRPCPort=50011,
            daprHTTPPort="3511",
            logLevel="debug",
            apiListenAddresses="127.0.0.1",
            maxBodySize="8Mi",
            env={"A": "x", "ON": True, "N": 3, "EMPTY": None},
        )
    ).apps
    assert spec.app_id == "orders-api"
    assert (spec.app_port, spec.dapr_grpc_port, spec.dapr_http_port) == (6001, 50011, 3511)
    assert spec.app_protocol == "grpc"
    assert spec.log_level == "debug"
    assert spec.listen_addresses == "127.0.0.1"
    assert spec.max_body_size == "8Mi"
    assert spec.env == {"A": "x", "ON": "true", "N": "3", "EMPTY": ""}


def test_common_settings_are_inherited_and_app_values_win() -> None:
    common = {"env": {"SHARED": "1", "LEVEL": "common"}, "logLevel": "warn", "appProtocol": "grpc"}
    first, second = template(
        app(appID="a", env={"LEVEL": "app"}),
        app(appID="b", logLevel="debug"),
        common=common,
    ).apps
    assert first.env == {"SHARED": "1", "LEVEL": "app"}
    assert first.log_level == "warn"
    assert first.where("logLevel") == "common.logLevel"
    assert second.log_level == "debug"
    assert second.where("logLevel") == "apps[1].logLevel"
    assert second.app_protocol == "grpc"


def test_paths_resolve_like_the_dapr_cli() -> None:
    parsed = template(
        app(appDirPath="services/orders/", resourcesPaths=["./components", "/abs/res"]),
        app(appID="b", appDirPath="/elsewhere/b", resourcesPath="../shared"),
        common={"resourcesPaths": "./res-a, ./res-b", "resourcesPath": "~/res-c"},
    )
    first, second = parsed.apps
    # An app's paths hang off its appDirPath; common's off the template's folder.
    assert [r.path for r in first.resources] == [
        BASE / "services/orders/components",
        Path("/abs/res"),
    ]
    assert [r.field for r in first.resources] == [
        "apps[0].resourcesPaths[0]",
        "apps[0].resourcesPaths[1]",
    ]
    assert [r.path for r in second.resources] == [Path("/elsewhere/shared")]
    assert [r.path for r in parsed.common_resources] == [
        BASE / "res-a",
        BASE / "res-b",
        Path.home() / "res-c",
    ]


def test_supported_but_unhonoured_fields_warn_once_each() -> None:
    parsed = template(
        app(appID="a", appHealthCheckPath="/healthz", configFilePath="c.yaml"),
        app(appID="b", appHealthCheckPath="/healthz", containerImage="img"),
        common={"appHealthCheckPath": "/h"},
        name="demo",
    )
    health = [w for w in parsed.warnings if "appHealthCheckPath" in w]
    assert len(health) == 1
    assert "common, apps[0], apps[1]" in health[0]
    assert any("configFilePath (apps[0])" in w for w in parsed.warnings)
    assert any("containerImage (apps[1])" in w for w in parsed.warnings)
    assert not any("name" in w.split()[1] for w in parsed.warnings)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the template must be a mapping"),
        ({"apps": [app()]}, "version: required"),
        ({"version": 2, "apps": [app()]}, "version: unsupported value 2"),
        ({"version": True, "apps": [app()]}, "version: unsupported value True"),
        ({"version": 1}, "apps: required"),
        ({"version": 1, "apps": []}, "apps: must be a non-empty list"),
        ({"version": 1, "apps": ["orders"]}, "apps[0]: must be a mapping"),
        ({"version": 1, "apps": [app(), {"appID": "x"}]}, "apps[1].appDirPath: required"),
        ({"version": 1, "apps": [app(appPort="http")]}, "apps[0].appPort: must be a port number"),
        ({"version": 1, "apps": [app(appPort=70000)]}, "apps[0].appPort: must be a port number"),
        ({"version": 1, "apps": [app(daprHTTPPort=True)]}, "apps[0].daprHTTPPort: must be a port"),
        ({"version": 1, "apps": [app(command="python app.py")]}, "apps[0].command: must be a list"),
        ({"version": 1, "apps": [app(env=["A=1"])]}, "apps[0].env: must be a mapping"),
        ({"version": 1, "apps": [app(env={"A": {"b": 1}})]}, "apps[0].env.A: must be a string"),
        ({"version": 1, "apps": [app(appID="my.app")]}, "apps[0].appID: app id 'my.app'"),
        ({"version": 1, "apps": [app(appID="")]}, "apps[0].appID: app id ''"),
        ({"version": 1, "apps": [app(appDirPath="./a.b")]}, "apps[0].appDirPath: app id 'a.b'"),
        ({"version": 1, "apps": [app(logLevel=3)]}, "apps[0].logLevel: must be a string"),
        (
            {"version": 1, "apps": [app(appID="a"), app(appID="a")]},
            "apps[1].appID: 'a' is also apps[0]'s id",
        ),
        (
            {
                "version": 1,
                "apps": [app(appID="a", appPort=7000), app(appID="b", daprGRPCPort=7000)],
            },
            "apps[1].daprGRPCPort: port 7000 is also apps[0].appPort",
        ),
        (
            {"version": 1, "apps": [app(appId="x")]},
            "apps[0].appId: unknown field (did you mean appID?)",
        ),
        (
            {"version": 1, "apps": [app()], "comon": {}},
            "comon: unknown field (did you mean common?)",
        ),
        ({"version": 1, "apps": [app()], "common": {"appID": "x"}}, "common.appID: per-app field"),
        ({"version": 1, "apps": [app()], "common": []}, "common: must be a mapping"),
        (
            {"version": 1, "apps": [app()], "common": {"resourcesPaths": [1]}},
            "common.resourcesPaths: must be a list",
        ),
    ],
)
def test_invalid_templates_name_the_field(data: object, message: str) -> None:
    assert error_of(data).startswith(message)


def test_yaml_syntax_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="not valid YAML"):
        loads("version: 1\napps: [\n", BASE)


def test_the_documented_example_parses() -> None:
    text = """
version: 1
common:
  resourcesPath: ./app/components
  env:
    DEBUG: true
apps:
  - appID: webapp
    appDirPath: .dapr/webapp/
    resourcesPath: .dapr/resources
    configFilePath: .dapr/config.yaml
    appProtocol: http
    appPort: 8080
    appHealthCheckPath: "/healthz"
    command: ["python3", "app.py"]
    appLogDestination: file
    daprdLogDestination: file
  - appID: backend
    appDirPath: .dapr/backend/
    appProtocol: grpc
    appPort: 3000
    unixDomainSocket: "/tmp/test-socket"
    env:
      DEBUG: false
    command: ["./backend"]
"""
    parsed = loads(text, BASE)
    webapp, backend = parsed.apps
    assert webapp.env == {"DEBUG": "true"}
    assert backend.env == {"DEBUG": "false"}
    assert webapp.resources[0].path == BASE / ".dapr/webapp/.dapr/resources"
    assert parsed.common_resources[0].path == BASE / "app/components"
    assert len(parsed.warnings) == 5
