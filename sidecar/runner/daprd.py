"""`--runtime daprd`: each app's sidecar is Dapr's own daprd, started as `dapr run -f` does.

The runner then stands in for the Dapr CLI, which the Go module proxy refuses to serve here
(tools/dapr/README.md): the same template, and daprd's command line built the way the CLI
builds it (dapr/cli `pkg/standalone/run.go`, `RunConfig.getArgs`): its flags in its order,
its defaults (`--app-protocol http`, `--app-max-concurrency -1`, `--max-body-size 4Mi`,
`--read-buffer-size 4Ki`, placement on `localhost:50005`), and a free port for each port the
template leaves open, the metrics and internal gRPC ports included. Like the CLI, it starts
neither placement, nor scheduler, nor the components' backends: `dapr init` does that, or
the commands in tools/dapr/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sidecar.runner.template import AppSpec, PathField, TemplateError

# The Dapr CLI's defaults on Linux and macOS (validatePlacementHostAddr and
# validateSchedulerHostAddr: a host without a port gets this one).
PLACEMENT_PORT = 50005
SCHEDULER_PORT = 50006
DEFAULT_PLACEMENT_HOST = "localhost"
# The Dapr CLI's struct-tag defaults of the shared run settings.
DEFAULT_APP_PROTOCOL = "http"
DEFAULT_MAX_BODY_SIZE = "4Mi"
DEFAULT_READ_BUFFER_SIZE = "4Ki"
# What daprd answers 2xx on once its APIs and components are up, the app not yet needed.
READY_PATH = "/v1.0/healthz/outbound"


@dataclass(frozen=True)
class Daprd:
    """Run every sidecar as the daprd binary at `binary`."""

    binary: str


def with_port(address: str, port: int) -> str:
    """`host` becomes `host:port`, as the Dapr CLI completes a placement or scheduler address."""
    return address if ":" in address else f"{address}:{port}"


def argv(
    daprd: Daprd,
    app: AppSpec,
    resources: tuple[PathField, ...],
    *,
    grpc_port: int,
    http_port: int,
    metrics_port: int,
    allocate_port: Callable[[], int],
) -> tuple[str, ...]:
    """daprd's command line for `app`, flag for flag what `dapr run -f` passes."""
    flags: list[str] = []
    if app.config_file is not None:
        if not app.config_file.is_file():
            raise TemplateError(f"{app.where('configFilePath')}: no such file: {app.config_file}")
        flags += ["--config", str(app.config_file)]
    flags += ["--app-protocol", app.app_protocol or DEFAULT_APP_PROTOCOL]
    if app.listen_addresses:
        flags += ["--dapr-listen-addresses", app.listen_addresses]
    if app.log_level:
        flags += ["--log-level", app.log_level]
    flags += ["--app-max-concurrency", "-1"]
    placement = app.placement_host_address or DEFAULT_PLACEMENT_HOST
    flags += ["--placement-host-address", with_port(placement, PLACEMENT_PORT)]
    for resource in resources:
        flags += ["--resources-path", str(resource.path)]
    flags += ["--max-body-size", app.max_body_size or DEFAULT_MAX_BODY_SIZE]
    flags += ["--read-buffer-size", DEFAULT_READ_BUFFER_SIZE]
    if app.scheduler_host_address:
        flags += ["--scheduler-host-address", with_port(app.scheduler_host_address, SCHEDULER_PORT)]
    flags += ["--app-id", app.app_id]
    if app.app_port is not None:
        flags += ["--app-port", str(app.app_port)]
    flags += ["--dapr-http-port", str(http_port), "--dapr-grpc-port", str(grpc_port)]
    flags += ["--profile-port", "-1"]  # the CLI's unset value: profiling stays off
    flags += ["--metrics-port", str(metrics_port)]
    flags += ["--dapr-internal-grpc-port", str(allocate_port())]
    return (daprd.binary, *flags)
