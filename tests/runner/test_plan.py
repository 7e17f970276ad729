"""Planning: sidecar flags, ports and environments derived from a template."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.runner.plan import Launch, build
from sidecar.runner.template import TemplateError, parse

PYTHON = "/usr/bin/python-for-tests"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("orders", "shipping", "components", "shared"):
        (tmp_path / name).mkdir()
    return tmp_path


def ports_from(first: int) -> Callable[[], int]:
    counter: Iterator[int] = itertools.count(first)
    return lambda: next(counter)


def plan(
    project: Path,
    *apps: dict[str, Any],
    common: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    allocate: Callable[[], int] | None = None,
) -> list[Launch]:
    data: dict[str, Any] = {"version": 1, "apps": list(apps)}
    if common is not None:
        data["common"] = common
    return build(
        parse(data, project),
        data_dir=project / ".data",
        environ=environ or {"PATH": "/bin"},
        python=PYTHON,
        allocate_port=allocate or ports_from(41000),
    )


def flag(argv: tuple[str, ...], name: str) -> list[str]:
    return [argv[i + 1] for i, part in enumerate(argv) if part == name]


def test_sidecar_command_line_carries_the_apps_settings(project: Path) -> None:
    (launch,) = plan(
        project,
        {
            "appID": "orders",
            "appDirPath": "orders",
            "appPort": 6001,
            "appProtocol": "grpc",
            "daprGRPCPort": 50123,
            "daprHTTPPort": 3599,
            "logLevel": "debug",
            "resourcesPaths": ["../components", "../shared"],
            "command": ["python", "app.py"],
        },
    )
    argv = launch.sidecar_argv
    assert argv[:3] == (PYTHON, "-m", "sidecar")
    assert flag(argv, "--app-id") == ["orders"]
    assert flag(argv, "--dapr-grpc-port") == ["50123"]
    assert flag(argv, "--dapr-http-port") == ["3599"]
    assert flag(argv, "--app-port") == ["6001"]
    assert flag(argv, "--app-protocol") == ["grpc"]
    assert flag(argv, "--log-level") == ["debug"]
    assert flag(argv, "--data-dir") == [str(project / ".data")]
    assert flag(argv, "--resources-path") == [str(project / "components"), str(project / "shared")]
    assert launch.cwd == project / "orders"
    assert launch.app_argv == ("python", "app.py")
    assert (launch.grpc_port, launch.http_port, launch.app_port) == (50123, 3599, 6001)


def test_unset_settings_are_left_to_the_sidecars_defaults(project: Path) -> None:
    (launch,) = plan(project, {"appDirPath": "orders"})
    for name in ("--app-port", "--app-protocol", "--log-level", "--resources-path"):
        assert name not in launch.sidecar_argv
    assert launch.app_argv == ()


def test_free_ports_never_collide_with_each_other_or_fixed_ones(project: Path) -> None:
    # The allocator offers the fixed port first: it must be skipped, not reused.
    offered = iter([3500, 3500, 41001, 41002, 41003, 41004, 41005])
    first, second = plan(
        project,
        {"appDirPath": "orders", "daprHTTPPort": 3500},
        {"appDirPath": "shipping"},
        allocate=lambda: next(offered),
    )
    ports = [
        port for launch in (first, second) for port in (launch.grpc_port, launch.http_port)
    ] + [first.metrics_port, second.metrics_port]
    assert first.http_port == 3500
    assert len(set(ports)) == 6
    # Each sidecar serves its metrics on its own port, as each daprd of `dapr run -f` does.
    for launch in (first, second):
        flag = launch.sidecar_argv.index("--metrics-port")
        assert launch.sidecar_argv[flag + 1] == str(launch.metrics_port)


def test_app_environment_is_what_daprd_gives_apps(project: Path) -> None:
    environ = {
        "PATH": "/bin",
        "DAPR_API_TOKEN": "from-runner",
        "APP_PORT": "stale",
        "PYTHONUNBUFFERED": "0",
    }
    orders, shipping = plan(
        project,
        {"appDirPath": "orders", "appPort": 6001, "env": {"APP_API_TOKEN": "app-secret"}},
        {"appDirPath": "shipping", "env": {"DAPR_HTTP_PORT": "1", "LEVEL": "app"}},
        common={"env": {"LEVEL": "common", "SHARED": "yes"}},
        environ=environ,
    )
    env = orders.app_env
    assert env["APP_ID"] == "orders"
    assert env["DAPR_GRPC_PORT"] == str(orders.grpc_port)
    assert env["DAPR_HTTP_PORT"] == str(orders.http_port)
    assert env["APP_PORT"] == "6001"
    assert env["APP_PROTOCOL"] == "grpc"  # the sidecar's default
    assert env["DAPR_API_TOKEN"] == "from-runner"
    assert env["APP_API_TOKEN"] == "app-secret"
    assert env["SHARED"] == "yes"
    assert env["PATH"] == "/bin"
    assert env["PYTHONUNBUFFERED"] == "0"  # the caller's choice is kept
    other = shipping.app_env
    assert other["LEVEL"] == "app"
    assert other["DAPR_HTTP_PORT"] == str(shipping.http_port)  # the sidecar's port wins
    assert "APP_PORT" not in other  # the runner's own APP_PORT is not this app's


def test_sidecar_gets_the_templates_tokens_but_not_the_apps_variables(project: Path) -> None:
    (launch,) = plan(
        project,
        {"appDirPath": "orders", "env": {"DAPR_API_TOKEN": "t0ken", "FEATURE": "on"}},
        environ={"PATH": "/bin", "PYTHONPATH": "/extra"},
    )
    env = launch.sidecar_env
    assert env["DAPR_API_TOKEN"] == "t0ken"
    assert "FEATURE" not in env
    assert env["PATH"] == "/bin"
    assert env["PYTHONPATH"].endswith("/extra")
    assert env["PYTHONPATH"].split(":")[0] == str(Path(__file__).resolve().parents[2])


def test_resources_follow_the_dapr_cli_precedence(project: Path) -> None:
    (project / "shipping" / ".dapr" / "resources").mkdir(parents=True)
    common = {"resourcesPaths": ["./shared"]}
    own, local, inherited = plan(
        project,
        {"appDirPath": "orders", "resourcesPath": "../components"},
        {"appDirPath": "shipping"},
        {"appID": "third", "appDirPath": "orders"},
        common=common,
    )
    assert flag(own.sidecar_argv, "--resources-path") == [str(project / "components")]
    assert flag(local.sidecar_argv, "--resources-path") == [
        str(project / "shipping" / ".dapr" / "resources")
    ]
    assert flag(inherited.sidecar_argv, "--resources-path") == [str(project / "shared")]


@pytest.mark.parametrize(
    ("apps", "common", "message"),
    [
        ([{"appDirPath": "missing"}], None, "apps[0].appDirPath: no such folder"),
        (
            [{"appDirPath": "orders", "resourcesPaths": ["../nope"]}],
            None,
            "apps[0].resourcesPaths[0]: no such folder",
        ),
        ([{"appDirPath": "orders"}], {"resourcesPath": "nope"}, "common.resourcesPath: no such"),
        (
            [{"appDirPath": "orders", "appProtocol": "carrier-pigeon"}],
            None,
            "apps[0].appProtocol: invalid choice: 'carrier-pigeon'",
        ),
        (
            [{"appDirPath": "orders"}],
            {"logLevel": "loud"},
            "common.logLevel: invalid choice: 'loud'",
        ),
        (
            [{"appDirPath": "orders", "maxBodySize": "lots"}],
            None,
            "apps[0].maxBodySize: invalid size 'lots'",
        ),
    ],
)
def test_problems_are_found_before_anything_starts(
    project: Path, apps: list[dict[str, Any]], common: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        plan(project, *apps, common=common)
    assert str(caught.value).startswith(message)


def test_a_fixed_port_already_in_use_is_refused(project: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TemplateError, match=rf"apps\[0\].daprGRPCPort: port {port} is already"):
            plan(project, {"appDirPath": "orders", "daprGRPCPort": port})
        with pytest.raises(TemplateError, match=rf"apps\[0\].appPort: port {port} is already"):
            plan(project, {"appDirPath": "orders", "appPort": port})
