"""`python -m sidecar.runner --app-id X --app-port P -- python app.py`: one app and its sidecar,
as `dapr run` starts them (the Dapr CLI's flag names and defaults), planned and supervised
like one app of a run template.

Without `--resources-path` the sidecar gets the default components, as after `dapr init`:
a `statestore` (with `actorStateStore`) and a `pubsub`, written on first use into
`~/.dapr-embedded/components` (`DAPR_EMBEDDED_HOME` moves the folder), on SQLite files in
`~/.dapr-embedded/data`. Every single-app run of a user shares that data folder, as `dapr
init`'s Redis is shared: apps started in two terminals exchange messages, find each other
for service invocation and cross-app workflows. The folder is not Dapr's own `~/.dapr`,
whose components (Redis) the embedded sidecar cannot run. With `--runtime daprd` the
sidecar is daprd, on the Dapr CLI's defaults (`~/.dapr/components`, `~/.dapr/config.yaml`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sidecar.runner.daprd import DEFAULT_APP_PROTOCOL
from sidecar.runner.template import AppSpec, PathField, Template

HOME_VARIABLE = "DAPR_EMBEDDED_HOME"
# `dapr init`'s components, on the embedded sidecar's SQLite types; connection strings
# are relative, so under the run's --data-dir.
DEFAULT_COMPONENTS = {
    "statestore.yaml": {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "statestore"},
        "spec": {
            "type": "state.sqlite",
            "version": "v1",
            "metadata": [
                {"name": "connectionString", "value": "statestore.sqlite"},
                {"name": "actorStateStore", "value": "true"},
            ],
        },
    },
    "pubsub.yaml": {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "pubsub"},
        "spec": {
            "type": "pubsub.sqlite",
            "version": "v1",
            "metadata": [{"name": "connectionString", "value": "pubsub.sqlite"}],
        },
    },
}


def home(environ: Mapping[str, str]) -> Path:
    """The embedded sidecar's per-user folder (components and data of single-app runs)."""
    configured = environ.get(HOME_VARIABLE)
    return Path(configured).expanduser() if configured else Path.home() / ".dapr-embedded"


def default_components(folder: Path) -> Path:
    """`folder` with the default components, written only if it does not exist yet (a user
    may edit them, as they may edit what `dapr init` wrote)."""
    if not folder.exists():
        folder.mkdir(parents=True)
        for name, document in DEFAULT_COMPONENTS.items():
            (folder / name).write_text(
                "# Written by the embedded sidecar's single-app run, as `dapr init` writes\n"
                "# its defaults; edit freely, it is not written again.\n"
                + yaml.safe_dump(document, sort_keys=False)
            )
    return folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`dapr run`'s flags for one app (the Dapr CLI's names and short forms)."""
    p.add_argument("-a", "--app-id", default=None, help="the app's id: one app without -f")
    p.add_argument("-p", "--app-port", type=int, default=None, help="the port the app listens on")
    p.add_argument(
        "-P",
        "--app-protocol",
        default=DEFAULT_APP_PROTOCOL,
        help=f"how the sidecar calls the app: http or grpc (default {DEFAULT_APP_PROTOCOL})",
    )
    p.add_argument("-H", "--dapr-http-port", type=int, default=None, help="the HTTP API port")
    p.add_argument("-G", "--dapr-grpc-port", type=int, default=None, help="the gRPC API port")
    p.add_argument("-M", "--metrics-port", type=int, default=None, help="the metrics port")
    p.add_argument(
        "-d",
        "--resources-path",
        action="append",
        type=Path,
        default=[],
        help="a folder of Dapr resources (repeatable; default: the default components)",
    )
    p.add_argument("--log-level", default=None, help="the sidecar's log level")
    p.add_argument("--max-body-size", default=None, help="the largest request, e.g. 4Mi")
    p.add_argument("command", nargs="*", help="the app's command, after --")


def is_single(args: argparse.Namespace) -> bool:
    return args.app_id is not None or bool(args.command)


def template(
    args: argparse.Namespace, cwd: Path, environ: Mapping[str, str], runtime: str
) -> tuple[Template, Path]:
    """The one-app template of `dapr run`'s flags, and its default data folder."""
    resources: Sequence[Path] = args.resources_path
    config_file = None
    if not resources and runtime == "daprd":
        dapr_home = Path.home() / ".dapr"
        resources = [dapr_home / "components"]
        if (dapr_home / "config.yaml").is_file():
            config_file = dapr_home / "config.yaml"
    elif not resources:
        resources = [default_components(home(environ) / "components")]
    app = app_spec(
        args.app_id or cwd.name,
        cwd,
        tuple(args.command),
        resources,
        app_port=args.app_port,
        app_protocol=args.app_protocol,
        dapr_grpc_port=args.dapr_grpc_port,
        dapr_http_port=args.dapr_http_port,
        metrics_port=args.metrics_port,
        log_level=args.log_level,
        max_body_size=args.max_body_size,
        config_file=config_file,
    )
    return Template(cwd, (app,), (), {}), home(environ) / "data"


def app_spec(
    app_id: str,
    cwd: Path,
    command: tuple[str, ...],
    resources: Sequence[Path],
    **settings: Any,
) -> AppSpec:
    """One app of `dapr run`'s flags; `settings` are `AppSpec` fields (ports, protocol,
    daprd's configuration, placement and scheduler), unset ones None."""
    fields = {
        name: None
        for name in (
            "app_port",
            "app_protocol",
            "dapr_grpc_port",
            "dapr_http_port",
            "metrics_port",
            "log_level",
            "listen_addresses",
            "max_body_size",
        )
    }
    return AppSpec(
        label="dapr run",
        app_id=app_id,
        app_dir=cwd,
        command=command,
        env={},
        resources=tuple(
            PathField("--resources-path", Path(os.path.abspath(path))) for path in resources
        ),
        **{**fields, **settings},
    )
