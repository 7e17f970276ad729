"""The sidecar's command line: daprd's flag names for what it supports, plus its own.

Scripts written for `daprd` run unchanged; flags daprd has and the sidecar does not use
are refused by argparse with a message naming them, never silently ignored.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_settings import BaseSettings

from foundation.settings import ENV, load

_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "ki": 1024, "m": 1000**2, "mi": 1024**2}


def parse_bool(text: str) -> bool:
    """Go's flag syntax for booleans, as daprd takes them: `--enable-metrics=false`."""
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean '{text}' (use true or false)")


DEFAULT_METRICS_PORT = 9090


def parse_size(text: str) -> int:
    """daprd's quantity syntax for --max-body-size (and --sqlite-max-size): `4Mi`, `512Ki`,
    `4000000`."""
    value = text.strip().lower()
    digits = len(value) - len(value.lstrip("0123456789"))
    number, unit = value[:digits], value[digits:]
    if not number or unit not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(f"invalid size '{text}' (use e.g. 4Mi, 512Ki)")
    return int(number) * _SIZE_UNITS[unit]


@dataclass
class SidecarConfig:
    app_id: str = "app"
    grpc_port: int = 50001
    http_port: int = 3500
    internal_grpc_port: int = 0
    app_port: int | None = None
    app_protocol: str = "grpc"
    resources_paths: list[Path] = field(default_factory=list)
    log_level: str = "info"
    data_dir: Path = Path(".data")
    listen_address: str = "127.0.0.1"
    max_body_bytes: int = 4 * 1024 * 1024
    sqlite_synchronous: str = "NORMAL"
    # The largest size of each SQLite file; None: as large as the disk allows.
    sqlite_max_bytes: int | None = None
    lease_seconds: float = 300.0
    # daprd's metrics server (`--enable-metrics`, `--metrics-port`); the address defaults to
    # the API's (loopback unless said otherwise). `metrics_port_given`: named on the command
    # line, so a port in use is an error; daprd's default port in use is only a warning,
    # since a machine runs several embedded sidecars (docs/sidecar-runtime.md).
    enable_metrics: bool = True
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_port_given: bool = False
    metrics_listen_address: str | None = None
    # daprd's `NAMESPACE` (the pod's namespace), the `namespace` label of its metrics.
    namespace: str = "default"
    # daprd takes these from its environment, never from flags (they would show in `ps`).
    api_token: str | None = None
    app_token: str | None = None

    @property
    def database(self) -> Path:
        return self.data_dir / f"{self.app_id}.sqlite"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sidecar",
        description="Embedded Dapr-compatible sidecar (workflows, pub/sub, state) on SQLite.",
    )
    p.add_argument("--app-id", default="app", help="the app's Dapr id")
    p.add_argument("--dapr-grpc-port", type=int, default=50001, help="Dapr gRPC API port")
    p.add_argument("--dapr-http-port", type=int, default=3500, help="Dapr HTTP API port")
    p.add_argument(
        "--dapr-internal-grpc-port",
        type=int,
        default=0,
        help="port other apps' sidecars call for cross-app workflows (0: any free port)",
    )
    p.add_argument("--app-port", type=int, default=None, help="the app's callback port")
    p.add_argument(
        "--app-protocol",
        default="grpc",
        choices=["grpc", "http"],
        help="how the app is called: gRPC AppCallback, or HTTP (/dapr/subscribe, routes)",
    )
    p.add_argument(
        "--resources-path",
        action="append",
        default=[],
        type=Path,
        help="folder of Dapr resource YAML (repeatable)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warn", "warning", "error"]
    )
    p.add_argument(
        "--dapr-listen-addresses",
        default="127.0.0.1",
        help="address to bind (loopback unless said otherwise)",
    )
    p.add_argument(
        "--max-body-size", default="4Mi", type=parse_size, help="largest accepted message"
    )
    p.add_argument("--data-dir", default=Path(".data"), type=Path, help="where SQLite files live")
    p.add_argument(
        "--sqlite-synchronous",
        default="normal",
        choices=["normal", "full"],
        help="normal: durable across process crashes; full: fsync every commit",
    )
    p.add_argument(
        "--sqlite-max-size",
        default=None,
        type=parse_size,
        help="cap on each SQLite file's size (e.g. 512Mi); a write beyond it fails as on a "
        "full disk (default: none)",
    )
    p.add_argument(
        "--workflow-lease-seconds",
        default=300.0,
        type=float,
        help="a work item not completed in this time is dispatched again",
    )
    p.add_argument(
        "--enable-metrics",
        nargs="?",
        const=True,
        default=True,
        type=parse_bool,
        help="serve daprd's Prometheus metrics (default true; --enable-metrics=false: off)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help=f"port of the metrics server (default {DEFAULT_METRICS_PORT})",
    )
    p.add_argument(
        "--metrics-listen-address",
        default=None,
        help="address the metrics server binds (default: --dapr-listen-addresses)",
    )
    return p


class _Environment(BaseSettings):
    """`DAPR_API_TOKEN`: required from apps on every call; `APP_API_TOKEN`: sent to the app
    on every callback; `NAMESPACE`: the metrics' `namespace` label, as daprd's."""

    model_config = ENV

    dapr_api_token: str | None = None
    app_api_token: str | None = None
    namespace: str = "default"


def parse(argv: list[str] | None = None) -> SidecarConfig:
    args = parser().parse_args(argv)
    environment = load(_Environment)
    level = "warning" if args.log_level == "warn" else args.log_level
    return SidecarConfig(
        app_id=args.app_id,
        grpc_port=args.dapr_grpc_port,
        http_port=args.dapr_http_port,
        internal_grpc_port=args.dapr_internal_grpc_port,
        app_port=args.app_port,
        app_protocol=args.app_protocol,
        resources_paths=list(args.resources_path),
        log_level=level,
        data_dir=args.data_dir,
        listen_address=args.dapr_listen_addresses,
        max_body_bytes=args.max_body_size,
        sqlite_synchronous=args.sqlite_synchronous.upper(),
        sqlite_max_bytes=args.sqlite_max_size,
        lease_seconds=args.workflow_lease_seconds,
        enable_metrics=args.enable_metrics,
        metrics_port=DEFAULT_METRICS_PORT if args.metrics_port is None else args.metrics_port,
        metrics_port_given=args.metrics_port is not None,
        metrics_listen_address=args.metrics_listen_address,
        namespace=environment.namespace,
        api_token=environment.dapr_api_token,
        app_token=environment.app_api_token,
    )
