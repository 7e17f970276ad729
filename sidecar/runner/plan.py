"""Turns a parsed template into concrete launches: command lines, ports, environments.

Everything that can be known before starting a process is checked here, so a bad
template fails before anything runs: folders exist, fixed ports are free, and each
sidecar command line is parsed by the sidecar's own argument parser. Checking against
that parser (rather than a copy of its rules) keeps the runner unchanged when the
sidecar learns new values, e.g. another `--app-protocol`. With `daprd` given, each
sidecar is daprd instead, on the command line `dapr run -f` would give it (`daprd.py`).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sidecar
from foundation.ports import free_port
from sidecar import config as sidecar_config
from sidecar.runner import daprd as daprd_flags
from sidecar.runner.daprd import Daprd
from sidecar.runner.template import AppSpec, PathField, Template, TemplateError

# Secrets daprd and the app must agree on: handed to the sidecar as well as to the app.
TOKEN_VARIABLES = ("DAPR_API_TOKEN", "APP_API_TOKEN")
# The sidecar flag each template field becomes, for naming the field in errors.
_FLAG_FIELDS = {
    "--app-protocol": "appProtocol",
    "--log-level": "logLevel",
    "--dapr-listen-addresses": "apiListenAddresses",
    "--max-body-size": "maxBodySize",
}
_WILDCARDS = {"", "0.0.0.0", "::", "[::]", "localhost"}


@dataclass(frozen=True)
class Launch:
    """One app and its sidecar, ready to start; an empty `app_argv` runs the sidecar alone."""

    app_id: str
    cwd: Path
    sidecar_argv: tuple[str, ...]
    sidecar_env: Mapping[str, str]
    app_argv: tuple[str, ...]
    app_env: Mapping[str, str]
    grpc_port: int
    http_port: int
    metrics_port: int
    app_port: int | None
    host: str
    runtime: str = "embedded"  # or "daprd": which sidecar `sidecar_argv` runs


def port_in_use(port: int) -> bool:
    """True when something listens on `port` (SO_REUSEADDR ignores TIME_WAIT leftovers)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def build(
    template: Template,
    *,
    data_dir: Path,
    environ: Mapping[str, str],
    python: str = sys.executable,
    allocate_port: Callable[[], int] = free_port,
    daprd: Daprd | None = None,
) -> list[Launch]:
    """Plans every app; raises `TemplateError` naming the field that prevents a start.
    With `daprd`, every sidecar is that daprd (`--runtime daprd`)."""
    taken = {
        port
        for app in template.apps
        for port in (app.app_port, app.dapr_grpc_port, app.dapr_http_port, app.metrics_port)
        if port is not None
    }

    def port(fixed: int | None, where: str) -> int:
        if fixed is not None:
            if port_in_use(fixed):
                raise TemplateError(f"{where}: port {fixed} is already in use")
            return fixed
        while (candidate := allocate_port()) in taken:
            pass
        taken.add(candidate)
        return candidate

    launches = []
    for app in template.apps:
        if not app.app_dir.is_dir():
            raise TemplateError(f"{app.label}.appDirPath: no such folder: {app.app_dir}")
        grpc_port = port(app.dapr_grpc_port, f"{app.label}.daprGRPCPort")
        http_port = port(app.dapr_http_port, f"{app.label}.daprHTTPPort")
        # Each sidecar its own metrics port, as `dapr run -f` gives each daprd one.
        metrics_port = port(app.metrics_port, f"{app.label}.metricsPort")
        if app.app_port is not None and port_in_use(app.app_port):
            raise TemplateError(
                f"{app.label}.appPort: port {app.app_port} is already in use before the app started"
            )
        if daprd is None:
            flags = _sidecar_flags(app, template, grpc_port, http_port, data_dir)
            flags += ["--metrics-port", str(metrics_port)]
            _check_flags(flags, app)
            sidecar_argv: tuple[str, ...] = (python, "-m", "sidecar", *flags)
        else:
            sidecar_argv = daprd_flags.argv(
                daprd,
                app,
                _resource_folders(app, template),
                grpc_port=grpc_port,
                http_port=http_port,
                metrics_port=metrics_port,
                allocate_port=lambda: port(None, "daprd"),
            )
        launches.append(
            Launch(
                app_id=app.app_id,
                cwd=app.app_dir,
                sidecar_argv=sidecar_argv,
                sidecar_env=_sidecar_env(app, environ),
                app_argv=app.command,
                app_env=_app_env(app, environ, grpc_port, http_port, daprd is not None),
                grpc_port=grpc_port,
                http_port=http_port,
                metrics_port=metrics_port,
                app_port=app.app_port,
                host=_probe_host(app.listen_addresses),
                runtime="embedded" if daprd is None else "daprd",
            )
        )
    return launches


def resources_for(app: AppSpec, template: Template) -> tuple[PathField, ...]:
    """The Dapr CLI's precedence: the app's own paths, else `<appDirPath>/.dapr/resources`
    when that folder exists, else `common`'s paths."""
    if app.resources:
        return app.resources
    local = app.app_dir / ".dapr" / "resources"
    if local.is_dir():
        return (PathField(f"{app.label}.appDirPath (.dapr/resources)", local),)
    return template.common_resources


def _resource_folders(app: AppSpec, template: Template) -> tuple[PathField, ...]:
    """`resources_for`, each folder checked to exist."""
    folders = resources_for(app, template)
    for resource in folders:
        if not resource.path.is_dir():
            raise TemplateError(f"{resource.field}: no such folder: {resource.path}")
    return folders


def _sidecar_flags(
    app: AppSpec, template: Template, grpc_port: int, http_port: int, data_dir: Path
) -> list[str]:
    flags = [
        "--app-id",
        app.app_id,
        "--dapr-grpc-port",
        str(grpc_port),
        "--dapr-http-port",
        str(http_port),
        "--data-dir",
        str(data_dir),
    ]
    if app.app_port is not None:
        flags += ["--app-port", str(app.app_port)]
    for resource in _resource_folders(app, template):
        flags += ["--resources-path", str(resource.path)]
    for flag, value in (
        ("--app-protocol", app.app_protocol),
        ("--log-level", app.log_level),
        ("--dapr-listen-addresses", app.listen_addresses),
        ("--max-body-size", app.max_body_size),
    ):
        if value is not None:
            flags += [flag, value]
    return flags


def _check_flags(flags: list[str], app: AppSpec) -> None:
    """Runs the sidecar's own argument parser on the flags, turning its complaint into a
    template error that names the field."""
    complaint = io.StringIO()
    try:
        with contextlib.redirect_stderr(complaint):
            sidecar_config.parser().parse_args(flags)
    except SystemExit:
        lines = complaint.getvalue().strip().splitlines()
        message = lines[-1].split("error: ", 1)[-1] if lines else "invalid sidecar flags"
        for flag, name in _FLAG_FIELDS.items():
            if f"argument {flag}:" in message:
                detail = message.split(":", 1)[1].strip()
                raise TemplateError(
                    f"{app.where(name)}: {detail} (the embedded sidecar refuses it)"
                ) from None
        raise TemplateError(f"{app.label}: the embedded sidecar refuses: {message}") from None


def _sidecar_env(app: AppSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment, the template's API tokens, and an import path that finds
    this very `sidecar` package whatever the app's folder is."""
    env = dict(environ)
    env.update({name: app.env[name] for name in TOKEN_VARIABLES if name in app.env})
    root = str(Path(sidecar.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, environ.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _app_env(
    app: AppSpec, environ: Mapping[str, str], grpc_port: int, http_port: int, daprd: bool
) -> dict[str, str]:
    """What daprd's CLI gives an app: the runner's environment, the template's `env`, and
    the Dapr variables, which win so that the app always finds its own sidecar."""
    env = dict(environ)
    env.update(app.env)
    # Python apps would otherwise hold their output in a pipe buffer until exit.
    env.setdefault("PYTHONUNBUFFERED", "1")
    default = (
        daprd_flags.DEFAULT_APP_PROTOCOL
        if daprd
        else str(sidecar_config.parser().get_default("app_protocol"))
    )
    protocol = app.app_protocol or default
    env.update(
        APP_ID=app.app_id,
        DAPR_GRPC_PORT=str(grpc_port),
        DAPR_HTTP_PORT=str(http_port),
        APP_PROTOCOL=protocol,
    )
    if app.app_port is not None:
        env["APP_PORT"] = str(app.app_port)
    elif "APP_PORT" not in app.env:
        env.pop("APP_PORT", None)  # inherited from whoever started the runner: not ours
    return env


def _probe_host(listen_addresses: str | None) -> str:
    first = (listen_addresses or "").split(",")[0].strip()
    return "127.0.0.1" if first in _WILDCARDS else first
